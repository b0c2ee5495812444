import { parseCidr, type Cidr } from '../net/cidr.js';
import { failsafeChain, type FailsafeRule } from '../compiler/failsafe.js';
import type { Direction, EndpointProgram, HostProgram, InterfaceBinding, RuleChain } from '../compiler/ir.js';
import { AddressLookup } from './address-lookup.js';

export interface PreparedFailsafe extends FailsafeRule {
  peer: AddressLookup | null;
}

type FailsafeChains = Record<Direction, PreparedFailsafe[]>;

/**
 * A host program indexed for packet evaluation: chains and endpoints by id, every address set
 * and network parsed once. A simulated host evaluates thousands of packets against one program
 * (checks every soak interval, reachability diffs), so the indexing must not be per packet.
 */
export class PreparedProgram {
  /** The failsafe chains of the filter (and mangle) table and of the raw table (with replies). */
  readonly failsafe: { filter: FailsafeChains; raw: FailsafeChains };
  private readonly chains = new Map<string, RuleChain>();
  private readonly bindings = new Map<string, InterfaceBinding>();
  private readonly endpointsByHep = new Map<string, EndpointProgram>();
  private readonly wildcard: EndpointProgram | undefined;
  private readonly sets = new Map<string, AddressLookup>();
  /** Named-port set id → `protocol/port` → the addresses offering it. */
  private readonly portSets = new Map<string, Map<string, AddressLookup>>();
  /** Rule networks, keyed by the (immutable) list they were written as. */
  private readonly nets = new Map<readonly string[], AddressLookup>();

  constructor(readonly program: HostProgram) {
    // The first of duplicates wins, as the linear searches this replaces did.
    for (const c of program.chains) if (!this.chains.has(c.id)) this.chains.set(c.id, c);
    for (const b of program.interfaces) if (!this.bindings.has(b.iface)) this.bindings.set(b.iface, b);
    for (const e of program.endpoints) if (!this.endpointsByHep.has(e.hep)) this.endpointsByHep.set(e.hep, e);
    this.wildcard = program.endpoints.find((e) => e.wildcard);
    for (const s of program.addressSets) if (!this.sets.has(s.id)) this.sets.set(s.id, new AddressLookup(s.elements.map((e) => parseCidr(e))));
    for (const s of program.namedPortSets) {
      if (this.portSets.has(s.id)) continue;
      const byService = new Map<string, Cidr[]>();
      for (const e of s.elements) {
        const key = `${e.protocol}/${e.port}`;
        byService.set(key, [...(byService.get(key) ?? []), parseCidr(e.address)]);
      }
      this.portSets.set(s.id, new Map([...byService].map(([k, nets]) => [k, new AddressLookup(nets)])));
    }
    const prepare = (f: FailsafeRule): PreparedFailsafe => ({ ...f, peer: f.net === undefined ? null : new AddressLookup([parseCidr(f.net)]) });
    const chains = (table: 'filter' | 'raw'): FailsafeChains => ({
      ingress: failsafeChain(program.failsafe, table, 'ingress').map(prepare),
      egress: failsafeChain(program.failsafe, table, 'egress').map(prepare),
    });
    this.failsafe = { filter: chains('filter'), raw: chains('raw') };
  }

  chain(id: string): RuleChain | undefined {
    return this.chains.get(id);
  }

  isWorkload(iface: string): boolean {
    return this.program.workloadPrefixes.some((p) => iface.startsWith(p));
  }

  endpointFor(iface: string, specificOnly: boolean): EndpointProgram | undefined {
    const binding = this.bindings.get(iface);
    if (binding?.role === 'hep' && binding.via !== 'wildcard') return binding.hep === undefined ? undefined : this.endpointsByHep.get(binding.hep);
    if (binding?.role === 'workload') return undefined;
    // Interfaces that appeared after compilation meet the `*` HEP in the kernel too.
    return specificOnly ? undefined : this.wildcard;
  }

  wildcardEndpoint(): EndpointProgram | undefined {
    return this.wildcard;
  }

  inSet(id: string, address: Cidr): boolean {
    return this.sets.get(id)?.has(address) ?? false;
  }

  inPortSet(id: string, protocol: number, port: number, address: Cidr): boolean {
    return this.portSets.get(id)?.get(`${protocol}/${port}`)?.has(address) ?? false;
  }

  inNets(nets: readonly string[], address: Cidr): boolean {
    let lookup = this.nets.get(nets);
    if (!lookup) {
      lookup = new AddressLookup(nets.map((n) => parseCidr(n)));
      this.nets.set(nets, lookup);
    }
    return lookup.has(address);
  }
}

const prepared = new WeakMap<HostProgram, PreparedProgram>();

/**
 * The prepared form of `program`, built once per program object: compiled programs are never
 * modified after compilation (the compile cache shares them), so identity is a safe key.
 */
export function prepareProgram(program: HostProgram): PreparedProgram {
  let p = prepared.get(program);
  if (!p) {
    p = new PreparedProgram(program);
    prepared.set(program, p);
  }
  return p;
}
