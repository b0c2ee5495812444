import { parseSelector, type Selector } from '../selector/index.js';
import { tryParseCidr, type Cidr } from '../net/cidr.js';
import type { CompiledRule, Direction } from './ir.js';
import type { SetRequest } from './rules.js';

/**
 * A memo that forgets what a revision did not use: values computed or reused since the last
 * `rotate` survive the next one, everything else is dropped. Carried from revision to revision,
 * memory stays at about two revisions' worth of distinct content, however long the process runs.
 */
class GenerationalMemo<T extends {} | null> {
  private current = new Map<string, T>();
  private previous = new Map<string, T>();

  get(key: string, compute: () => T): T {
    let value = this.current.get(key);
    if (value === undefined) {
      value = this.previous.get(key) ?? compute();
      this.current.set(key, value);
    }
    return value;
  }

  rotate(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}

/** A policy's or profile's rules for one direction, compiled: host-independent, so shared by every host. */
export interface CompiledRules {
  rules: CompiledRule[];
  /** The address and named-port sets the rules reference, by id; members are filled in per revision. */
  sets: SetRequest[];
}

/**
 * Work that depends only on the text of a resource, memoised by that text: parsed selectors and
 * addresses, compiled rule lists, and which policies select a given label set. Shared by every
 * host of a revision and, carried by the reconciler from one revision to the next, across revisions — an unchanged policy
 * is compiled once, however many hosts and commits it appears in. Values are treated as
 * immutable: host programs share them.
 */
export class CompileCache {
  readonly selectors = new GenerationalMemo<Selector>();
  readonly cidrs = new GenerationalMemo<Cidr | null>();
  /** Keyed by the resource's content key; each direction compiled when first needed. */
  readonly rules = new GenerationalMemo<Partial<Record<Direction, CompiledRules>>>();
  /** `policy-list fingerprint + label set` → indices of the selecting policies. */
  readonly selections = new GenerationalMemo<number[]>();

  selector(text: string): Selector {
    return this.selectors.get(text, () => parseSelector(text));
  }

  cidr(text: string): Cidr | null {
    return this.cidrs.get(text, () => tryParseCidr(text));
  }

  /** Called when a new revision starts: keeps what the previous one used, drops the rest. */
  rotate(): void {
    this.selectors.rotate();
    this.cidrs.rotate();
    this.rules.rotate();
    this.selections.rotate();
  }
}
