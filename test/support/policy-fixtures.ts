import { parse as parseYaml } from 'yaml';
import { Resource } from '../../src/model/schemas.js';
import { desiredStateOf, type DesiredState } from '../../src/state/desired-state.js';

/** A desired state from YAML documents or plain objects (apiVersion filled in when omitted). */
export function stateOf(...docs: (string | Record<string, unknown>)[]): DesiredState {
  const objects = docs.flatMap((d) => (typeof d === 'string' ? d.split(/^---$/m).map((s) => parseYaml(s) as unknown).filter(Boolean) : [d]));
  return desiredStateOf(
    objects.map((o, i) => ({
      resource: Resource.parse({ apiVersion: 'projectcalico.org/v3', ...(o as Record<string, unknown>) }),
      source: { file: `fixture-${i}.yaml`, line: 1, col: 1 },
    })),
  );
}

export const hep = (name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) => ({
  kind: 'HostEndpoint',
  metadata: { name, labels },
  spec,
});

export const gnp = (name: string, spec: Record<string, unknown>) => ({ kind: 'GlobalNetworkPolicy', metadata: { name }, spec });
