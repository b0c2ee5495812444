import type { Direction, Failsafe, HostProgram } from './ir.js';

/** One accept rule of a failsafe chain. */
export interface FailsafeRule {
  protocol: Failsafe['protocol'];
  port: number;
  /** Which port of the packet is the failsafe port. */
  portOf: 'destination' | 'source';
  /** The entry's `net`, matched against the packet's source or destination address. */
  net?: string;
  netOf: 'source' | 'destination';
}

/**
 * The failsafe chains Felix renders (felix/rules/static.go:474 `failsafeInChain`, :541
 * `failsafeOutChain`). In the filter and mangle tables a chain accepts its own direction's
 * entries by destination port: inbound entries with `net` as the source, outbound ones with `net`
 * as the destination. In the raw table, before conntrack, it also accepts the replies of the other
 * direction's failsafe flows, by *source* port (static.go:503 and :570), so that a failsafe reply
 * never falls into doNotTrack policy and leaves half of a connection untracked. Pinned by
 * static_test.go:200-262 (test/compiler/failsafe.test.ts).
 */
export function failsafeChain(failsafe: HostProgram['failsafe'], table: 'filter' | 'raw', direction: Direction): FailsafeRule[] {
  const [own, other] = direction === 'ingress' ? [failsafe.inbound, failsafe.outbound] : [failsafe.outbound, failsafe.inbound];
  const netOf = direction === 'ingress' ? 'source' : 'destination';
  const rule = (f: Failsafe, portOf: FailsafeRule['portOf']): FailsafeRule => ({ protocol: f.protocol, port: f.port, portOf, ...(f.net !== undefined ? { net: f.net } : {}), netOf });
  const rules = own.map((f) => rule(f, 'destination'));
  if (table === 'raw') rules.push(...other.map((f) => rule(f, 'source')));
  return rules;
}
