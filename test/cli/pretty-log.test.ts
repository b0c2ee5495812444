import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { formatPretty, prettyDestination } from '../../src/log/pretty.js';

describe('pretty log lines', () => {
  it('one readable line per record: time, level, message, the fields the message does not say', () => {
    const out: string[] = [];
    const logger = createLogger({ destination: prettyDestination({ write: (s) => out.push(s) }, false) as never });
    logger.warn(
      { event: 'HostTransition', revision: '082b57bc'.padEnd(40, '0'), host: 'node-a', wave: 0, from: 'verifying', to: 'rollingBack', state: 'rollingBack', reason: 'checks failed after apply: ssh', failingChecks: ['ssh'] },
      'node-a: verifying → rollingBack',
    );
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d WARN  node-a: verifying → rollingBack {2}event=HostTransition revision=082b57bc wave=0 reason="checks failed after apply: ssh"\n$/);
  });

  it('passes through what is not JSON, and colours the level on a terminal', () => {
    expect(formatPretty('not json', false)).toBe('not json\n');
    expect(formatPretty(JSON.stringify({ level: 50, time: '2026-12-02T16:00:00.000Z', msg: 'boom', simulated: true }), true)).toBe('16:00:00 \x1b[31mERROR\x1b[0m [simulated] boom\n');
  });

  it('PALISADE_LOG_LEVEL must be a level', () => {
    expect(() => createLogger({ level: 'loud' })).toThrow(/log level 'loud' \(PALISADE_LOG_LEVEL\) is not one of/);
  });
});
