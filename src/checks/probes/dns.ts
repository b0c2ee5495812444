import { randomInt } from 'node:crypto';
import { buildDnsQuery, judgeDnsReply } from './dns-packet.js';
import { coldProber, type Prober } from './node-probe.js';
import { notReached, reached, type ProbeOrigin, type ProbeResult } from './probe-result.js';

/**
 * Sends the query on a connected UDP socket: only the target's datagrams are delivered, and an
 * ICMP port unreachable surfaces as ECONNREFUSED instead of a silent timeout. The first reply
 * goes back as hex; whether it is an answer is decided here, by the pure parser.
 */
const BODY = `
const [host, port, hex] = args;
const s = ctx.own(require('node:dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4'));
s.on('error', (e) => done({ ok: false, error: e.code || e.message }));
s.on('message', (m) => done({ ok: true, reply: m.toString('hex') }));
s.connect(Number(port), host, () => s.send(Buffer.from(hex, 'hex')));
`;

/** A UDP DNS query for `name` gets a well-formed response with the same id (any rcode). */
export async function probeDns(target: string, port: number, name: string, timeoutMs: number, origin: ProbeOrigin, prober: Prober = coldProber): Promise<ProbeResult> {
  const id = randomInt(0, 0x10000);
  const query = Buffer.from(buildDnsQuery(id, name)).toString('hex');
  const r = await prober.runNode(BODY, [target, String(port), query], origin, timeoutMs);
  if (!r.ok) return notReached(r.ms, r.error);
  const verdict = judgeDnsReply(id, Buffer.from(typeof r['reply'] === 'string' ? r['reply'] : '', 'hex'));
  return verdict.ok ? reached(r.ms) : notReached(r.ms, verdict.why);
}
