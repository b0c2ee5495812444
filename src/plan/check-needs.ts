import { SSH_FAILSAFE_CHECK, type CheckSpec } from '../checks/check-spec.js';
import type { Direction } from '../compiler/ir.js';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../compiler/protocols.js';
import { formatCidr, tryParseCidr } from '../net/cidr.js';

/** What a check sends: a protocol with a destination port, or an ICMP type. */
export interface Service {
  proto: number;
  port?: number;
  icmpType?: number;
}

/**
 * What a rollout check needs from a host's firewall, as a path the plan can prove: a check from
 * the controller is an inbound connection from the management network; a check from the host is
 * an outbound connection to its target.
 */
export interface CheckNeed {
  name: string;
  direction: Direction;
  service: Service;
  /** Host vantage: the address the check reaches, when it is an address. */
  target?: string;
  /** `closed`: the check proves a deny; opening the path fails it. */
  expect: 'open' | 'closed';
  describe: string;
}

const SERVICE: Record<CheckSpec['kind'], (c: CheckSpec) => Service> = {
  tcp: (c) => ({ proto: PROTO_TCP, port: (c as { port: number }).port }),
  ssh: (c) => ({ proto: PROTO_TCP, port: (c as { port: number }).port }),
  http: (c) => ({ proto: PROTO_TCP, port: (c as { port: number }).port }),
  dns: (c) => ({ proto: PROTO_UDP, port: (c as { port: number }).port }),
  icmp: () => ({ proto: PROTO_ICMP, icmpType: 8 }),
};

/** The declared checks plus the always-on SSH check, unless one of the same name is declared. */
export function checkNeeds(declared: readonly CheckSpec[]): CheckNeed[] {
  const checks = declared.some((c) => c.name === SSH_FAILSAFE_CHECK.name) ? declared : [SSH_FAILSAFE_CHECK, ...declared];
  return checks.map((c) => {
    const service = SERVICE[c.kind](c);
    const what = `${c.kind}${'port' in c ? `/${c.port}` : ''}`;
    const fromController = c.vantage === 'controller';
    return {
      name: c.name,
      direction: fromController ? 'ingress' : 'egress',
      service,
      ...(!fromController && c.target && addressOf(c.target) ? { target: addressOf(c.target) } : {}),
      expect: c.expect,
      describe: fromController ? `${what} from the controller (management network) to the host` : `${what} from the host to ${c.target ?? 'its target'}`,
    };
  });
}

/** A plain IP address in canonical form; host names and networks give undefined. */
function addressOf(text: string): string | undefined {
  const c = text.includes('/') ? null : tryParseCidr(text);
  return c ? formatCidr(c).split('/')[0] : undefined;
}
