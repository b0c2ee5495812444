import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CheckSpec } from '../checks/check-spec.js';
import { judge } from '../checks/run-checks.js';
import { probe } from '../checks/probes/probe.js';
import { applyRuleset, netnsNft, readTable, restoreRuleset, type NftRunner } from '../dataplane/index.js';
import type { CheckOutcome } from '../eventlog/events.js';
import type { HostDriver, HostInterface, Ruleset } from './host-driver.js';

const run = promisify(execFile);

/** A host that is a network namespace on this machine (the lab): real kernel, real sockets. */
export class NetnsHost implements HostDriver {
  readonly simulated = false;
  private readonly nft: NftRunner;

  constructor(
    readonly name: string,
    readonly namespace: string,
    readonly address: string,
    /** The management network's namespace, for controller-vantage checks (this process when null). */
    private readonly managementNamespace: string | null,
  ) {
    this.nft = netnsNft(namespace);
  }

  async readInterfaces(): Promise<HostInterface[]> {
    const { stdout } = await run('ip', ['-n', this.namespace, '-j', 'addr', 'show'], { timeout: 10_000 });
    const links = JSON.parse(stdout) as { ifname: string; addr_info?: { local: string }[] }[];
    return links.map((l) => ({ name: l.ifname, addresses: (l.addr_info ?? []).map((a) => a.local) }));
  }

  async current(): Promise<string | null> {
    const table = await readTable(this.nft);
    return table === 'absent' ? null : table;
  }

  async apply(ruleset: Ruleset): Promise<void> {
    await applyRuleset(this.nft, ruleset.text);
  }

  async dryRun(ruleset: Ruleset): Promise<string | null> {
    const r = await this.nft.run(['-c', '-f', '-'], ruleset.text);
    return r.code === 0 ? null : `nft -c in ${this.namespace}: ${r.stderr.trim()}`;
  }

  async restore(snapshot: string | null): Promise<void> {
    await restoreRuleset(this.nft, snapshot ?? 'absent');
  }

  /**
   * Controller vantage: from the management namespace (this process's when there is none) to the
   * host's address unless the check names another. Host vantage: from inside the host.
   */
  async check(check: CheckSpec): Promise<CheckOutcome> {
    const inbound = check.vantage === 'controller';
    const target = check.target ?? (inbound ? this.address : undefined);
    if (target === undefined) return { name: check.name, ok: false, detail: 'a host-vantage check needs a target address' };
    const namespace = inbound ? this.managementNamespace : this.namespace;
    const result = await probe(check, target, namespace === null ? {} : { namespace });
    return judge(check, result, inbound ? `from management to ${this.name} (${target})` : `from ${this.name} to ${target}`);
  }
}
