import type { CheckSpec } from '../checks/check-spec.js';
import type { ServicePorts } from '../lab/lab-service.js';

/** Source port of simulated flows: any ephemeral port will do, policies rarely match on it. */
const EPHEMERAL_PORT = 40000;
const ICMP_ECHO_REQUEST = 8;

/** The fields of the first packet a check sends, as the simulator should judge it. */
export interface CheckTraffic {
  proto: 'tcp' | 'udp' | 'icmp';
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
}

/** tcp, ssh and http open a TCP connection; dns sends a UDP datagram; icmp an echo request. */
export function checkTraffic(check: CheckSpec): CheckTraffic {
  switch (check.kind) {
    case 'tcp':
    case 'ssh':
    case 'http':
      return { proto: 'tcp', sport: EPHEMERAL_PORT, dport: check.port };
    case 'dns':
      return { proto: 'udp', sport: EPHEMERAL_PORT, dport: check.port };
    case 'icmp':
      return { proto: 'icmp', icmpType: ICMP_ECHO_REQUEST, icmpCode: 0 };
  }
}

/**
 * What a simulated host running `services` (the lab service: SSH banner, HTTP 200 on `/` and
 * 404 elsewhere, DNS) answers once the policy lets the packet in: null when the check is
 * answered as it wants, the reason otherwise. The kernel answers echo requests itself.
 */
export function serviceRefusal(check: CheckSpec, services: ServicePorts): string | null {
  if (check.kind === 'icmp') return null;
  if (check.kind === 'dns') return services.dns.includes(check.port) ? null : 'port unreachable';
  const ssh = services.ssh.includes(check.port);
  const http = services.http.includes(check.port);
  if (!ssh && !http) return 'connection refused';
  switch (check.kind) {
    case 'tcp':
      return null;
    case 'ssh':
      return ssh ? null : 'connected but no SSH banner';
    case 'http': {
      if (!http) return 'not an HTTP server';
      const status = check.path === '/' ? 200 : 404;
      return status === check.status ? null : `answered ${status}, expected ${check.status}`;
    }
  }
}
