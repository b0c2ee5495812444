import { describe, expect, it } from 'vitest';
import { buildDnsQuery, DnsPacketError, encodeName, judgeDnsReply, parseDnsMessage, queryType } from '../../src/checks/probes/dns-packet.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A response to `query`: QR set, and the given record bytes appended to the answer section. */
function answer(query: Uint8Array, records: number[] = [], count = 0): Uint8Array {
  const r = Buffer.concat([Buffer.from(query), Buffer.from(records)]);
  r[2] = 0x81;
  r[3] = 0x80;
  r.writeUInt16BE(count, 6);
  return r;
}

describe('DNS query builder', () => {
  it('asks NS for the root: header, one question, nothing else', () => {
    expect(hex(buildDnsQuery(0xbeef, '.'))).toBe('beef' + '0100' + '0001' + '0000' + '0000' + '0000' + '00' + '0002' + '0001');
  });

  it('asks A for any other name, with or without the trailing dot', () => {
    const expected = '1234010000010000000000000' + '7' + Buffer.from('example').toString('hex') + '03' + Buffer.from('org').toString('hex') + '00' + '0001' + '0001';
    expect(hex(buildDnsQuery(0x1234, 'example.org'))).toBe(expected);
    expect(hex(buildDnsQuery(0x1234, 'example.org.'))).toBe(expected);
    expect(queryType('.')).toBe(2);
    expect(queryType('example.org')).toBe(1);
  });

  it('rejects names DNS cannot carry, with a code', () => {
    for (const bad of ['a..b', '.a', 'x'.repeat(64), `${'abcdefghi.'.repeat(26)}com`, 'caf\u00e9.org', 'sp ace']) {
      expect(() => encodeName(bad), bad).toThrow(DnsPacketError);
    }
    expect(() => encodeName('a..b')).toThrow(expect.objectContaining({ code: 'DNS_BAD_NAME' }));
    expect(encodeName('x'.repeat(63))).toHaveLength(65);
  });

  it('rejects an id that is not 16 bits', () => {
    expect(() => buildDnsQuery(0x10000, '.')).toThrow(RangeError);
  });
});

describe('DNS response parser', () => {
  it('reads back the question it was asked', () => {
    const m = parseDnsMessage(buildDnsQuery(7, 'example.org'));
    expect(m).toMatchObject({ id: 7, response: false, truncated: false, rcode: 0, questions: [{ name: 'example.org.', type: 1, class: 1 }], answers: 0 });
  });

  it('walks answer records, following compression pointers', () => {
    const q = buildDnsQuery(9, 'example.org');
    // NAME = pointer to offset 12 (the question), TYPE A, CLASS IN, TTL 60, RDLENGTH 4, 198.18.0.11
    const rr = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 11];
    const m = parseDnsMessage(answer(q, rr, 1));
    expect(m).toMatchObject({ id: 9, response: true, answers: 1, rcode: 0 });
    expect(judgeDnsReply(9, answer(q, rr, 1))).toEqual({ ok: true, rcode: 0 });
  });

  it('counts an error rcode as an answer', () => {
    const r = Buffer.from(answer(buildDnsQuery(3, 'nx.example')));
    r[3] = 0x83; // NXDOMAIN
    expect(judgeDnsReply(3, r)).toEqual({ ok: true, rcode: 3 });
  });

  it('refuses a reply with another id, or one that is not a response', () => {
    const q = buildDnsQuery(1, '.');
    expect(judgeDnsReply(2, answer(q))).toEqual({ ok: false, why: 'reply id 1 does not match query id 2' });
    expect(judgeDnsReply(1, q)).toEqual({ ok: false, why: 'reply is not a response (QR bit clear)' });
  });

  it('refuses malformed messages: short, cut-off records, pointer loops, reserved label types', () => {
    const q = buildDnsQuery(5, 'example.org');
    const cases: [string, Uint8Array][] = [
      ['short header', Uint8Array.from([0, 5, 0x81])],
      ['question cut off', answer(q).subarray(0, q.length - 2)],
      ['record promised but absent', answer(q, [], 1)],
      ['rdata runs past the end', answer(q, [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 9, 1, 2], 1)],
      ['pointer loop', answer(q, [0xc0, q.length, 0, 1, 0, 1, 0, 0, 0, 60, 0, 0], 1)],
      ['reserved label type', answer(q, [0x80, 0, 1, 0, 1, 0, 0, 0, 60, 0, 0], 1)],
    ];
    for (const [what, bytes] of cases) {
      const v = judgeDnsReply(5, bytes);
      expect(v.ok, what).toBe(false);
      expect(() => parseDnsMessage(bytes), what).toThrow(expect.objectContaining({ code: 'DNS_MALFORMED' }));
    }
  });

  it('accepts a truncated (TC) reply whose records are cut short', () => {
    const r = Buffer.from(answer(buildDnsQuery(6, '.'), [], 3));
    r[2] = 0x83; // QR, RD and TC
    expect(parseDnsMessage(r)).toMatchObject({ truncated: true, answers: 3 });
    expect(judgeDnsReply(6, r).ok).toBe(true);
  });

  it('gives up on a name longer than 255 bytes even when made of pointers', () => {
    // 4 labels of 63 bytes then a pointer back to the first label: 256+ bytes, no loop detector needed.
    const labels = Array.from({ length: 4 }, () => [63, ...Array<number>(63).fill(0x61)]).flat();
    const msg = Uint8Array.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0xc0, 12, 0, 1, 0, 1]);
    expect(() => parseDnsMessage(msg)).toThrow(/longer than 255/);
  });
});
