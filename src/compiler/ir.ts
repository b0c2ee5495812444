/**
 * The per-host compiled form (HostProgram): what one host enforces, independent of nftables.
 * The nft renderer and the in-memory simulator both read exactly this, so `palisade explain`
 * describes the ruleset the kernel runs. Plain data only: it round-trips through JSON.
 */

export type { Family } from '../net/cidr.js';
import type { Family } from '../net/cidr.js';
export type Direction = 'ingress' | 'egress';

/** The host's interfaces and addresses, as read from the host at apply time. */
export interface HostFacts {
  node: string;
  interfaces: { name: string; addresses: string[] }[];
}

export interface InterfaceBinding {
  iface: string;
  /** `hep`: governed by `hep`; `workload`: matches interfacePrefix; `unmanaged`: no HEP, left alone; `excluded`: in interfaceExclude, left alone. */
  role: 'hep' | 'workload' | 'unmanaged' | 'excluded';
  hep?: string;
  via?: 'interfaceName' | 'expectedIPs' | 'wildcard';
}

export interface Failsafe {
  protocol: 'tcp' | 'udp';
  port: number;
  /** Peer network: source for inbound, destination for outbound. */
  net?: string;
}

/**
 * The stages a packet can meet, each in its own hook (docs/calico-model.md §3.4):
 * untracked = raw (doNotTrack), prednat = mangle prerouting (preDNAT), normal = filter input/output,
 * forward = filter forward (applyOnForward).
 */
export type StageKind = 'untracked' | 'prednat' | 'normal' | 'forward';
export const STAGE_KINDS: readonly StageKind[] = ['untracked', 'prednat', 'normal', 'forward'];

export interface TierProgram {
  name: string;
  /** `Pass` also for untracked and pre-DNAT stages, where a later stage still decides. */
  endOfTier: 'drop' | 'pass';
  /** Rule-chain ids, in evaluation order. */
  policies: string[];
}

export interface StageProgram {
  tiers: TierProgram[];
  /** Profile rule-chain ids (normal stage only). */
  profiles: string[];
  /** What happens when nothing decided: normal stage drops; other stages give no verdict. */
  final: 'drop' | 'none';
}

/** One active host endpoint: its chains per stage and direction. */
export interface EndpointProgram {
  hep: string;
  wildcard: boolean;
  interfaces: string[];
  stages: Partial<Record<`${StageKind}-${Direction}`, StageProgram>>;
}

export interface PortMatch {
  ranges: [number, number][];
  /** Named-port set id (`address . protocol . port` tuples of the selected endpoints). */
  namedSet?: string;
}

export interface IcmpMatch {
  type: number;
  code?: number;
}

export interface EntityMatch {
  nets?: string[];
  notNets?: string[];
  /** Address-set id of `selector` (folded with `notSelector` as Calico does). */
  set?: string;
  /** Address-set id of a lone `notSelector`. */
  notSet?: string;
  ports?: PortMatch;
  notPorts?: PortMatch;
}

/** A rule compiled for one address family. */
export interface FamilyMatch {
  family: Family | null;
  protocol?: number;
  notProtocol?: number;
  icmp?: IcmpMatch;
  notIcmp?: IcmpMatch;
  src: EntityMatch;
  dst: EntityMatch;
}

export type RuleAction = 'allow' | 'deny' | 'pass' | 'log';

export interface CompiledRule {
  /** Index in the policy's (or profile's) rule list for this direction. */
  index: number;
  action: RuleAction;
  /** One entry per family the rule can match; `family: null` when it is family-neutral. Empty: never matches. */
  matches: FamilyMatch[];
}

export interface RuleChain {
  id: string;
  kind: 'policy' | 'profile';
  /** Policy or profile name as written in the repository. */
  name: string;
  tier?: string;
  direction: Direction;
  stage: StageKind;
  rules: CompiledRule[];
}

export interface AddressSet {
  id: string;
  family: Family;
  /** Canonical selector the members were selected by. */
  selector: string;
  /** Masked CIDRs, sorted, nested ones removed. */
  elements: string[];
}

export interface NamedPortSet {
  id: string;
  family: Family;
  selector: string;
  port: string;
  elements: { address: string; protocol: number; port: number }[];
}

export interface HostProgram {
  format: 'palisade.host-program/v1';
  node: string;
  interfaces: InterfaceBinding[];
  workloadPrefixes: string[];
  defaultEndpointToHostAction: 'Drop' | 'Accept' | 'Return';
  failsafe: { inbound: Failsafe[]; outbound: Failsafe[] };
  endpoints: EndpointProgram[];
  chains: RuleChain[];
  addressSets: AddressSet[];
  namedPortSets: NamedPortSet[];
  warnings: string[];
}

export const stageKey = (stage: StageKind, direction: Direction): `${StageKind}-${Direction}` => `${stage}-${direction}`;
