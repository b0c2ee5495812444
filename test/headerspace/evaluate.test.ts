import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileHost } from '../../src/compiler/index.js';
import type { HostProgram } from '../../src/compiler/ir.js';
import { diffContext, OTHER_INTERFACE, contextsOf, type DiffBox } from '../../src/headerspace/diff.js';
import { evaluate, type Context, type Piece } from '../../src/headerspace/evaluate.js';
import { boxHas, packetPoint } from '../../src/headerspace/packet.js';
import { simulate, type Packet } from '../../src/simulator/index.js';
import { stateOf } from '../support/policy-fixtures.js';
import { docsOf, FACTS, randomPacket, repoArb, revisionPairArb } from '../support/random-repo.js';

const known = new Set(FACTS.interfaces.map((i) => i.name));
function contextIface(p: HostProgram, iface: string): string {
  const prefix = p.workloadPrefixes.find((w) => iface.startsWith(w));
  return prefix !== undefined ? `${prefix}*` : known.has(iface) ? iface : OTHER_INTERFACE;
}
const contextOf = (p: HostProgram, pkt: Packet): Context => ({ iface: contextIface(p, pkt.iface), direction: pkt.direction, ...(pkt.forwardTo !== undefined ? { forwardTo: contextIface(p, pkt.forwardTo) } : {}) });
const ctxKey = (c: Context) => `${c.iface}|${c.direction}|${c.forwardTo ?? ''}`;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** ≥ 100,000 random packets per run for the diff property (the bar); FC_SEED replays a failure. */
const PAIRS = 100;
const PACKETS_PER_PAIR = 1000;
const seed = process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {};

describe('symbolic evaluation equals the simulator', () => {
  it('every packet falls in exactly one piece, whose verdict is the simulator verdict', () => {
    fc.assert(
      fc.property(repoArb, fc.integer(), (repo, seed) => {
        const program = compileHost(stateOf(...docsOf(repo)), FACTS);
        const rand = rng(seed);
        const cache = new Map<string, Piece[]>();
        for (let i = 0; i < 400; i++) {
          const pkt = randomPacket(rand);
          const { family, point } = packetPoint(pkt);
          const ctx = contextOf(program, pkt);
          const k = `${ctxKey(ctx)}|${family}`;
          let pieces = cache.get(k);
          if (!pieces) cache.set(k, (pieces = evaluate(program, ctx, family)));
          const holding = pieces.filter((p) => p.region.some((b) => boxHas(b, point)));
          expect(holding.length, JSON.stringify(pkt)).toBe(1);
          expect(holding[0]!.verdict, JSON.stringify(pkt)).toBe(simulate(program, pkt).verdict);
        }
      }),
      { numRuns: 60, ...seed },
    );
  }, 180_000);

  it(`a packet is in a diff box iff its verdict differs between the revisions (${PAIRS} revision pairs × ${PACKETS_PER_PAIR} packets)`, () => {
    fc.assert(
      fc.property(revisionPairArb, fc.integer(), ([a, b], seed) => {
        const before = compileHost(stateOf(...docsOf(a)), FACTS);
        const after = compileHost(stateOf(...docsOf(b)), FACTS);
        const contexts = contextsOf([...known], [before, after]);
        const boxes = new Map<string, DiffBox[]>();
        for (const c of contexts) for (const f of [4, 6] as const) boxes.set(`${ctxKey(c)}|${f}`, diffContext(before, after, c, f));
        const rand = rng(seed);
        for (let i = 0; i < PACKETS_PER_PAIR; i++) {
          const pkt = randomPacket(rand);
          const { family, point } = packetPoint(pkt);
          const differs = simulate(before, pkt).verdict !== simulate(after, pkt).verdict;
          const list = boxes.get(`${ctxKey(contextOf(after, pkt))}|${family}`) ?? [];
          expect(list.filter((d) => boxHas(d.box, point)).length, JSON.stringify(pkt)).toBe(differs ? 1 : 0);
        }
      }),
      { numRuns: PAIRS, ...seed },
    );
  }, 180_000);
});
