import type { CheckSpec } from '../checks/check-spec.js';
import { judge } from '../checks/run-checks.js';
import type { HostProgram } from '../compiler/index.js';
import type { CheckOutcome } from '../eventlog/events.js';
import type { ServicePorts } from '../lab/lab-service.js';
import { formatVerdict, simulate } from '../simulator/index.js';
import type { HostDriver, HostInterface, Ruleset } from './host-driver.js';
import { checkTraffic, serviceRefusal } from './simulated-check.js';

/**
 * A host that exists only in memory: its "kernel" is the packet simulator evaluating the same
 * compiled program the nft renderer would load. Used when there is no root or no nft, and for
 * large simulated fleets. Its services are part of the host so `closed` is possible without
 * any policy.
 */
export class SimulatedHost implements HostDriver {
  readonly simulated = true;
  private program: HostProgram | null = null;

  constructor(
    readonly name: string,
    readonly address: string,
    private readonly interfaces: HostInterface[],
    private readonly managementAddress: string,
    /** The services it runs, as a lab host does: what answers once the policy lets a check in. */
    private readonly services: ServicePorts,
  ) {}

  async readInterfaces(): Promise<HostInterface[]> {
    return this.interfaces;
  }

  async current(): Promise<string | null> {
    return this.program ? JSON.stringify(this.program) : null;
  }

  async apply(ruleset: Ruleset): Promise<void> {
    this.program = ruleset.program as HostProgram;
  }

  async restore(snapshot: string | null): Promise<void> {
    this.program = snapshot === null ? null : (JSON.parse(snapshot) as HostProgram);
  }

  async check(check: CheckSpec): Promise<CheckOutcome> {
    const inbound = check.vantage === 'controller';
    const target = check.target ?? (inbound ? this.address : undefined);
    if (target === undefined) return { name: check.name, ok: false, detail: 'a host-vantage check needs a target address' };
    const local = inbound ? target : this.address;
    const iface = this.interfaces.find((i) => i.addresses.includes(local))?.name;
    if (!iface) return { name: check.name, ok: false, detail: `simulated ${this.name} has no interface with ${local}` };
    const traffic = checkTraffic(check);
    const packet = inbound
      ? { iface, direction: 'ingress' as const, src: this.managementAddress, dst: target, ...traffic }
      : { iface, direction: 'egress' as const, src: this.address, dst: target, ...traffic };
    const verdict = this.program ? simulate(this.program, packet) : null;
    // Outbound, the far end is not simulated: it is assumed to answer, so only the policy decides.
    const refusal = verdict?.verdict === 'deny' ? `filtered: ${formatVerdict(verdict)}` : inbound ? serviceRefusal(check, this.services) : null;
    const where = inbound ? `from management to ${this.name} (${target}) [simulated]` : `from ${this.name} to ${target} [simulated]`;
    return judge(check, refusal === null ? { open: true, ms: 0 } : { open: false, ms: 0, error: refusal }, where);
  }
}
