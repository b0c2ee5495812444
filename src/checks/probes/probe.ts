import type { CheckSpec } from '../check-spec.js';
import { probeDns } from './dns.js';
import { probeHttp } from './http.js';
import { probeIcmp } from './icmp.js';
import { coldProber, type Prober } from './node-probe.js';
import { ProbeError, type ProbeOrigin, type ProbeResult } from './probe-result.js';
import { probeSsh, probeSshHandshake, type HostKeyCheck } from './ssh.js';
import { probeTcp } from './tcp.js';

/**
 * Runs `check` against `target` from `from` (a namespace, or this process's own) with real
 * sockets (through `prober`: a fresh process, or a warm one for the rollout; `hostKeys`: what an
 * `ssh` check's server key must be). A probe that could not run comes back `inconclusive` with the reason, not thrown:
 * a check round must report it like any other failure.
 */
export async function probe(check: CheckSpec, target: string, from: ProbeOrigin, prober: Prober = coldProber, opts: { hostKeys?: HostKeyCheck } = {}): Promise<ProbeResult> {
  try {
    switch (check.kind) {
      case 'tcp':
        return check.anyOf ? await probeAny(check.anyOf, check.timeoutMs, from, prober) : await probeTcp(target, check.port, check.timeoutMs, from, prober);
      case 'ssh':
        // With the target's key known, a real handshake; without, the banner is all there is to check.
        return opts.hostKeys ? await probeSshHandshake(target, check.port, check.timeoutMs, from, opts.hostKeys) : await probeSsh(target, check.port, check.timeoutMs, from, prober);
      case 'dns':
        return await probeDns(target, check.port, check.query, check.timeoutMs, from, prober);
      case 'icmp':
        return await probeIcmp(target, check.timeoutMs, from);
      case 'http':
        return await probeHttp(target, check.port, check.path, check.status, check.timeoutMs, from, prober);
    }
  } catch (e) {
    if (e instanceof ProbeError) return { open: false, ms: 0, error: e.message, inconclusive: e.code };
    throw e;
  }
}

/** Open when any endpoint answers; otherwise closed with every endpoint's reason. */
async function probeAny(endpoints: readonly { target: string; port: number }[], timeoutMs: number, from: ProbeOrigin, prober: Prober): Promise<ProbeResult> {
  const results = await Promise.all(endpoints.map((e) => probeTcp(e.target, e.port, timeoutMs, from, prober)));
  const open = results.findIndex((r) => r.open);
  if (open >= 0) return { ...results[open]!, open: true };
  const ms = Math.max(...results.map((r) => r.ms));
  const error = results.map((r, i) => `${endpoints[i]!.target}:${endpoints[i]!.port} ${r.error ?? 'no answer'}`).join(', ');
  const inconclusive = results.find((r) => r.inconclusive)?.inconclusive;
  return { open: false, ms, error, ...(inconclusive && results.every((r) => r.inconclusive) ? { inconclusive } : {}) };
}
