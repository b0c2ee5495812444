import { describe, expect, it } from 'vitest';
import { parsePingOutput } from '../../src/checks/probes/icmp.js';
import { isSshBanner } from '../../src/checks/probes/ssh.js';
import { judge } from '../../src/checks/run-checks.js';
import { CheckSpec } from '../../src/checks/check-spec.js';

describe('ping output', () => {
  it('reads a reply and its round trip', () => {
    const out = '64 bytes from 198.18.0.11: icmp_seq=1 ttl=64 time=0.144 ms\n\n--- 198.18.0.11 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\n';
    expect(parsePingOutput(out)).toEqual({ transmitted: 1, received: 1, rttMs: 0.144 });
  });

  it('reads a loss, and nothing when ping never got as far as statistics', () => {
    expect(parsePingOutput('--- x ping statistics ---\n1 packets transmitted, 0 received, 100% packet loss, time 0ms\n')).toEqual({ transmitted: 1, received: 0 });
    expect(parsePingOutput('')).toBeUndefined();
  });
});

describe('ssh banner', () => {
  it('is a line starting with SSH-', () => {
    expect(isSshBanner('SSH-2.0-OpenSSH_9.2p1 Debian-2')).toBe(true);
    expect(isSshBanner('HTTP/1.1 400 Bad Request')).toBe(false);
    expect(isSshBanner('')).toBe(false);
  });
});

describe('judge', () => {
  const closed = CheckSpec.parse({ name: 'no-8080', kind: 'tcp', port: 8080, expect: 'closed' });
  it('inverts for expect: closed', () => {
    expect(judge(closed, { open: false, ms: 1, error: 'ECONNREFUSED' }, 'here').ok).toBe(true);
    expect(judge(closed, { open: true, ms: 1 }, 'here').ok).toBe(false);
  });

  it('fails a probe that could not run whatever the check expects', () => {
    const notRun = { open: false, ms: 0, error: 'ping is not installed', inconclusive: 'PROBE_TOOL_MISSING' as const };
    expect(judge(closed, notRun, 'here')).toMatchObject({ ok: false, detail: expect.stringContaining('could not probe (PROBE_TOOL_MISSING') });
    expect(judge({ ...closed, expect: 'open' }, notRun, 'here').ok).toBe(false);
  });
});

describe('check spec', () => {
  it('rejects a DNS query name the probe could not send', () => {
    const r = CheckSpec.safeParse({ name: 'd', kind: 'dns', query: 'a..b' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/empty label/);
    expect(CheckSpec.parse({ name: 'd', kind: 'dns' })).toMatchObject({ port: 53, query: '.' });
  });
});
