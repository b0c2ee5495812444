import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CheckSpec } from '../checks/check-spec.js';
import { judge } from '../checks/run-checks.js';
import { tcpProbeInNamespace, tcpProbeLocal } from '../checks/tcp-probe.js';
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

  async check(check: CheckSpec): Promise<CheckOutcome> {
    if (check.kind !== 'tcp') return { name: check.name, ok: false, detail: `check kind '${check.kind}' is not supported by lab hosts yet` };
    if (check.vantage === 'host') {
      if (!check.target) return { name: check.name, ok: false, detail: 'a host-vantage check needs a target address' };
      const probe = await tcpProbeInNamespace(this.namespace, check.target, check.port, check.timeoutMs);
      return judge(check, probe, `from ${this.name} to ${check.target}`);
    }
    const target = check.target ?? this.address;
    const probe = this.managementNamespace
      ? await tcpProbeInNamespace(this.managementNamespace, target, check.port, check.timeoutMs)
      : await tcpProbeLocal(target, check.port, check.timeoutMs);
    return judge(check, probe, `from management to ${this.name} (${target})`);
  }
}
