import type { CheckSpec } from '../checks/check-spec.js';
import { judge } from '../checks/run-checks.js';
import type { HostProgram } from '../compiler/index.js';
import type { CheckOutcome } from '../eventlog/events.js';
import { formatVerdict, simulate } from '../simulator/index.js';
import type { HostDriver, HostInterface, Ruleset } from './host-driver.js';

/**
 * A host that exists only in memory: its "kernel" is the packet simulator evaluating the same
 * compiled program the nft renderer would load. Used when there is no root or no nft, and for
 * large simulated fleets. Listening ports are part of the host so `closed` is possible without
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
    private readonly listening: ReadonlySet<number>,
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
    if (check.kind !== 'tcp') return { name: check.name, ok: false, detail: `check kind '${check.kind}' is not supported by simulated hosts yet` };
    const inbound = check.vantage === 'controller';
    const target = check.target ?? this.address;
    const local = inbound ? target : this.address;
    const iface = this.interfaces.find((i) => i.addresses.includes(local))?.name;
    if (!iface) return { name: check.name, ok: false, detail: `simulated ${this.name} has no interface with ${local}` };
    const packet = inbound
      ? { iface, direction: 'ingress' as const, proto: 'tcp', src: this.managementAddress, dst: target, sport: 40000, dport: check.port }
      : { iface, direction: 'egress' as const, proto: 'tcp', src: this.address, dst: target, sport: 40000, dport: check.port };
    const verdict = this.program ? simulate(this.program, packet) : null;
    const allowed = !verdict || verdict.verdict !== 'deny';
    const open = allowed && (!inbound || this.listening.has(check.port));
    const why = !allowed ? `filtered: ${formatVerdict(verdict!)}` : 'connection refused';
    const where = inbound ? `from management to ${this.name} (${target}) [simulated]` : `from ${this.name} to ${target} [simulated]`;
    return judge(check, open ? { open: true, ms: 0 } : { open: false, ms: 0, error: why }, where);
  }
}
