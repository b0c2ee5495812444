/**
 * A rollout of one commit to 1,000 simulated hosts in four waves (canary, 10 %, 40 %, rest) with
 * a 10-minute soak per host, on xstate's SimulatedClock so the soak costs no wall time: what is
 * left is the controller's own overhead (machines, checks, event log with fsync, projections).
 * Baseline, measured in the same run: the same commit read from Git, validated, compiled and
 * rendered for every host, without machines, checks or event log — the work any rollout does.
 * Each phase runs in a fresh process so peak RSS is its own. Targets: ≤ 2 s, ≤ 300 MB.
 *   node --import tsx bench/rollout/fleet.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { SimulatedClock } from 'xstate';
import { CompileContext } from '../../src/compiler/context.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { openGitSource } from '../../src/git/source.js';
import type { CheckSpec } from '../../src/checks/check-spec.js';
import type { HostDriver, Ruleset } from '../../src/hosts/host-driver.js';
import { SimulatedHost } from '../../src/hosts/simulated-host.js';
import { LAB_SERVICES } from '../../src/lab/lab.js';
import { silentLogger } from '../../src/log/logger.js';
import { rulesetFor } from '../../src/reconciler/planner.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { readRepository } from '../../src/repository/repository.js';
import { desiredStateOf } from '../../src/state/desired-state.js';
import { TestRepo } from '../../test/support/repo.js';

const HOSTS = 1000;
const SOAK = '10m';
const SOAK_INTERVAL = '1m';
const CONCURRENCY = 50;
const MANAGEMENT = '198.19.255.1';
const address = (i: number) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`;
/** Node's names for in-flight file-system requests (`process.getActiveResourcesInfo()`). */
const IO_PENDING = /^(FSReq|FileHandle|CloseReq)/;
const hostName = (i: number) => `h${String(i).padStart(4, '0')}`;

function repositoryFiles(): Record<string, string> {
  const hep = (i: number) => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: ${hostName(i)}-eth0
  labels: {role: worker, zone: z${i % 10}, rack: r${i % 40}}
spec:
  node: ${hostName(i)}
  interfaceName: eth0
  expectedIPs: ["${address(i)}"]
`;
  const gnp = (p: number) => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: p${p}
spec:
  order: ${p}
  selector: role == 'worker' && zone == 'z${p % 10}'
  ingress:
    - action: Allow
      protocol: TCP
      source:
        selector: rack == 'r${p % 40}'
      destination:
        ports: [80, 443, '8000:8100']
    - action: Deny
      protocol: UDP
      source:
        nets: [10.0.0.0/8]
  egress:
    - action: Allow
`;
  // The declared check probes port 80 from the management network, so that path must stay open.
  const MANAGEMENT_WEB = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: management-web
spec:
  order: 0
  selector: role == 'worker'
  ingress:
    - action: Allow
      protocol: TCP
      source:
        nets: [${MANAGEMENT}/32]
      destination:
        ports: [80]
`;
  return {
    'palisade.yaml': `waves:
  - {name: canary, count: 1}
  - {name: ten-percent, percent: 10}
  - {name: forty-percent, percent: 40}
  - {name: rest}
soak: ${SOAK}
soakInterval: ${SOAK_INTERVAL}
concurrency: ${CONCURRENCY}
checkAttempts: 1
checks:
  - {name: http, kind: tcp, port: 80}
`,
    'hosts.yaml': Array.from({ length: HOSTS }, (_, i) => hep(i)).join('---\n'),
    'policies.yaml': [MANAGEMENT_WEB, ...Array.from({ length: 30 }, (_, p) => gnp(p))].join('---\n'),
  };
}

/**
 * The simulated hosts stand in for the kernel and the network: their packet simulator is not
 * controller work, so the time spent in it is measured and reported apart. Their methods do all
 * their work before returning, so timing the call is exact.
 */
class TimedHost implements HostDriver {
  static spentMs = 0;
  readonly simulated = true;
  constructor(private readonly inner: SimulatedHost) {}
  get name() {
    return this.inner.name;
  }
  get address() {
    return this.inner.address;
  }
  private timed<T>(call: () => T): T {
    const t0 = performance.now();
    try {
      return call();
    } finally {
      TimedHost.spentMs += performance.now() - t0;
    }
  }
  readInterfaces() {
    return this.timed(() => this.inner.readInterfaces());
  }
  current() {
    return this.timed(() => this.inner.current());
  }
  apply(ruleset: Ruleset) {
    return this.timed(() => this.inner.apply(ruleset));
  }
  restore(snapshot: string | null) {
    return this.timed(() => this.inner.restore(snapshot));
  }
  check(check: CheckSpec) {
    return this.timed(() => this.inner.check(check));
  }
}

const drivers = () =>
  new Map<string, HostDriver>(
    Array.from({ length: HOSTS }, (_, i) => [
      hostName(i),
      new TimedHost(new SimulatedHost(hostName(i), address(i), [{ name: 'eth0', addresses: [address(i)] }], MANAGEMENT, LAB_SERVICES)),
    ]),
  );

/** Peak RSS, sampled every 10 ms on the real clock while `work` runs (`rss()` alone: the full
 * `memoryUsage()` walks the heap spaces and cost ~100 ms of the measured time). */
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; ms: number; peakRss: number }> {
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 10);
  const t0 = performance.now();
  try {
    const result = await work();
    return { result, ms: performance.now() - t0, peakRss: Math.max(peakRss, process.memoryUsage.rss()) };
  } finally {
    clearInterval(sampler);
  }
}

interface PhaseResult {
  ms: number;
  /** Of `ms`, time inside the simulated hosts (packet simulator, stand-in for kernel and network). */
  hostsMs: number;
  peakRss: number;
  heapLimit: number;
  detail: string;
}

async function phase(which: 'baseline' | 'rollout'): Promise<PhaseResult> {
  const dir = await mkdtemp(join(tmpdir(), `palisade-bench-fleet-${which}-`));
  try {
    const repo = await TestRepo.create(join(dir, 'repo'));
    const revision = await repo.commit(repositoryFiles(), 'fleet');
    const git = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: join(dir, 'state', 'git-cache') });
    const fleet = drivers();
    try {
      if (which === 'baseline') {
        const { result, ms, peakRss } = await measured(async () => {
          const repository = readRepository(await git.readFiles(revision));
          const context = new CompileContext(desiredStateOf(repository.resources));
          let bytes = 0;
          for (const [name, host] of fleet) {
            const ruleset = rulesetFor(context, name, await host.readInterfaces());
            await host.apply(ruleset);
            bytes += ruleset.text.length;
          }
          return bytes;
        });
        return { ms, hostsMs: TimedHost.spentMs, peakRss, heapLimit: getHeapStatistics().heap_size_limit, detail: `${HOSTS} rulesets, ${(result / HOSTS).toFixed(0)} B of nft each` };
      }

      const clock = new SimulatedClock();
      clock.set(Date.now());
      const simulatedStart = clock.now();
      const store = await openFileEventStore(join(dir, 'state', 'events'));
      const reconciler = new Reconciler({ git, store, logger: silentLogger(), stateDir: join(dir, 'state'), drivers: fleet, now: () => clock.now(), clock });
      await reconciler.load();
      const { result, ms, peakRss } = await measured(async () => {
        let finished = false;
        const pass = reconciler.reconcile().finally(() => {
          finished = true;
        });
        // Simulated time moves on (one soak interval) only while nothing real is pending — no
        // file operation in flight — so soaking hosts wait for it but never overtake real work;
        // while something is, this loop sleeps a millisecond instead of spinning against it.
        // Bounded so a rollout that never ends fails the benchmark instead of hanging it.
        const deadline = performance.now() + 120_000;
        while (!finished) {
          if (performance.now() > deadline) throw new Error('the rollout did not finish within 120 s');
          await new Promise((r) => setImmediate(r));
          if (process.getActiveResourcesInfo().some((r) => IO_PENDING.test(r))) await new Promise((r) => setTimeout(r, 1));
          else clock.increment(60_000);
        }
        return pass;
      });
      const events = await store.head();
      await store.close();
      const [r] = result;
      const hosts = Object.values(reconciler.state.revisions.get(revision)?.hosts ?? {});
      const confirmed = hosts.filter((h) => h.state === 'confirmed').length;
      if (r?.outcome !== 'completed' || confirmed !== HOSTS) throw new Error(`rollout did not complete: ${JSON.stringify(r)}, ${confirmed}/${HOSTS} confirmed; ${JSON.stringify(hosts.find((h) => h.state !== 'confirmed'))}`);
      const waves = reconciler.state.revisions.get(revision)!.waves!.map((w) => w.hosts.length).join('/');
      const simulatedMin = (clock.now() - simulatedStart) / 60_000;
      return { ms, hostsMs: TimedHost.spentMs, peakRss, heapLimit: getHeapStatistics().heap_size_limit, detail: `waves ${waves}, ${confirmed} confirmed, ${events} events, ${simulatedMin.toFixed(0)} simulated minutes` };
    } finally {
      await git.close();
    }
  } finally {
    // A rollout that failed may still be writing; its error matters more than a leftover dir.
    await rm(dir, { recursive: true, force: true }).catch((e: unknown) => process.stderr.write(`could not remove ${dir}: ${String(e)}\n`));
  }
}

const which = process.argv[2];
if (which === 'baseline' || which === 'rollout') {
  process.stdout.write(`${JSON.stringify(await phase(which))}\n`);
} else {
  const run = (p: string): PhaseResult => {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), p], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`${p} phase failed (${r.status ?? r.signal}): ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as PhaseResult;
  };
  const baseline = run('baseline');
  const rollout = run('rollout');
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
  const ms = (n: number) => `${n.toFixed(0).padStart(6)} ms`;
  const overhead = rollout.ms - rollout.hostsMs;
  console.log(`fleet: ${HOSTS} simulated hosts, 4 waves, soak ${SOAK} per host (interval ${SOAK_INTERVAL}), concurrency ${CONCURRENCY}; heap limit ${mb(rollout.heapLimit)}`);
  console.log(`baseline  read + validate + compile + render, no machines  ${ms(baseline.ms)}  peak RSS ${mb(baseline.peakRss).padStart(7)}  (${baseline.detail})`);
  console.log(`rollout   wall time, soak on the simulated clock           ${ms(rollout.ms)}  peak RSS ${mb(rollout.peakRss).padStart(7)}  (${rollout.detail})`);
  console.log(`          of which inside the simulated hosts' packet simulator ${ms(rollout.hostsMs)}`);
  console.log(
    `controller overhead beyond soak: ${overhead.toFixed(0)} ms = ${(overhead / baseline.ms).toFixed(2)}x baseline (target ≤ 2000 ms: ${overhead <= 2000 ? 'met' : 'MISSED'}); ` +
      `peak RSS ${mb(rollout.peakRss)} = ${(rollout.peakRss / baseline.peakRss).toFixed(2)}x baseline (target ≤ 300 MB: ${rollout.peakRss <= 300 * 2 ** 20 ? 'met' : 'MISSED'})`,
  );
}
