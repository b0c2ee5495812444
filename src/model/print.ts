import { stringify } from 'yaml';
import type { Port, Resource } from './schemas.js';

/** A port back in the form an operator writes: `22`, `"1000:2000"` or a name. */
export function portToInput(p: Port): number | string {
  if (p.kind === 'named') return p.name;
  return p.min === p.max ? p.min : `${p.min}:${p.max}`;
}

// Only the normalised ports differ from what the YAML says; everything else prints as it is.
function toInput(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return (key === 'ports' || key === 'notPorts') && value.every(isPort) ? value.map(portToInput) : value.map((v) => toInput(v));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, toInput(v, k)]));
  }
  return value;
}

const isPort = (v: unknown): v is Port => typeof v === 'object' && v !== null && ((v as Port).kind === 'range' || (v as Port).kind === 'named');

/** The plain object a normalised resource parses back from: `parse(print(r))` equals `r`. */
export function resourceToInput(r: Resource): Record<string, unknown> {
  return toInput(r) as Record<string, unknown>;
}

/** Resources as multi-document YAML, in the given order. */
export function printResources(resources: readonly Resource[]): string {
  return resources.map((r) => stringify(resourceToInput(r), { lineWidth: 0 })).join('---\n');
}
