import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CheckSpec } from '../checks/check-spec.js';
import { judge } from '../checks/run-checks.js';
import { probe } from '../checks/probes/probe.js';
import type { Prober } from '../checks/probes/node-probe.js';
import type { ProbeOrigin } from '../checks/probes/probe-result.js';
import { applyRuleset, readTable, restoreRuleset, type NftRunner } from '../dataplane/index.js';
import type { CheckOutcome } from '../eventlog/events.js';
import type { ApplyReport, HostDriver, HostInterface, Ruleset } from './host-driver.js';

const run = promisify(execFile);

/** The output of `ip -j addr show`: every interface with its addresses. */
export function parseIpAddr(stdout: string): HostInterface[] {
  const links = JSON.parse(stdout) as { ifname: string; addr_info?: { local: string }[] }[];
  return links.map((l) => ({ name: l.ifname, addresses: (l.addr_info ?? []).map((a) => a.local) }));
}

/**
 * A host whose kernel Palisade drives with `nft` and reads with `ip`: a lab namespace or this
 * machine. Subclasses say where those commands and the connectivity probes run.
 */
export abstract class NftHost implements HostDriver {
  readonly simulated = false;

  protected constructor(
    readonly name: string,
    readonly address: string,
    readonly nft: NftRunner,
    /** `ip` arguments that select the host (`-n NS`), empty for this machine. */
    private readonly ipScope: string[],
  ) {}

  /** Where controller-vantage probes run from (the management network). */
  protected abstract controllerOrigin(): ProbeOrigin;
  /** Where host-vantage probes run from (the host itself). */
  protected abstract hostOrigin(): ProbeOrigin;

  async readInterfaces(): Promise<HostInterface[]> {
    const { stdout } = await run('ip', [...this.ipScope, '-j', 'addr', 'show'], { timeout: 10_000 });
    return parseIpAddr(stdout);
  }

  async current(): Promise<string | null> {
    const table = await readTable(this.nft);
    return table === 'absent' ? null : table;
  }

  async apply(ruleset: Ruleset, known?: { checked: boolean; before: string | null }): Promise<ApplyReport> {
    const { applied } = await applyRuleset(this.nft, ruleset.text, known ? { checked: known.checked, previous: known.before ?? 'absent' } : {});
    return { listing: applied };
  }

  async dryRun(ruleset: Ruleset): Promise<string | null> {
    const r = await this.nft.run(['-c', '-f', '-'], ruleset.text);
    return r.code === 0 ? null : `nft -c (${this.nft.where}): ${r.stderr.trim()}`;
  }

  async restore(snapshot: string | null): Promise<void> {
    await restoreRuleset(this.nft, snapshot ?? 'absent');
  }

  warmUp(prober: Prober): void {
    prober.warm?.(this.controllerOrigin());
  }

  /**
   * Controller vantage: from the management network to the host's address unless the check names
   * another. Host vantage: from inside the host, to the check's target.
   */
  async check(check: CheckSpec, prober?: Prober): Promise<CheckOutcome> {
    const inbound = check.vantage === 'controller';
    const target = check.target ?? (inbound ? this.address : undefined);
    if (target === undefined) return { name: check.name, ok: false, detail: 'a host-vantage check needs a target address' };
    const result = await probe(check, target, inbound ? this.controllerOrigin() : this.hostOrigin(), prober);
    return judge(check, result, inbound ? `from management to ${this.name} (${target})` : `from ${this.name} to ${target}`);
  }
}
