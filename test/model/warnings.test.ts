import { describe, expect, it } from 'vitest';
import { parsePolicyText, parseResourcesOrThrow } from '../../src/model/load.js';
import { ModelValidationError } from '../../src/model/errors.js';

describe('repository warnings', () => {
  it('names the FelixConfiguration fields Palisade ignores, and accepts them', () => {
    const r = parsePolicyText(`apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  ipipEnabled: true
  logSeverityScreen: Info
  reportingInterval: 0s
  failsafeInboundHostPorts: []
`);
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => `${w.code} ${w.field}: ${w.message}`)).toEqual([
      'FELIX_FIELDS_IGNORED spec: accepted but not acted on by Palisade: ipipEnabled, logSeverityScreen, reportingInterval',
    ]);
  });

  it('says a NetworkPolicy that seems to target host endpoints never will', () => {
    const r = parsePolicyText(`apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: np, namespace: prod}
spec: {selector: "role == 'worker'"}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h, labels: {role: worker}}
spec: {node: a, interfaceName: eth0}
`);
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => w.code)).toEqual(['NETWORK_POLICY_NOT_FOR_HOSTS']);
    expect(r.warnings[0]!.message).toContain("never applies to host endpoints (Calico confines it to namespace 'prod')");
  });

  it('warns about a profile that is not defined and a Felix config Felix never reads', () => {
    const r = parsePolicyText(`apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h}
spec: {node: a, interfaceName: eth0, profiles: [missing]}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: custom}
spec: {}
`);
    expect(r.warnings.map((w) => `${w.code} ${w.field}`)).toEqual(['MISSING_PROFILE spec.profiles[0]', 'FELIX_CONFIG_UNUSED metadata.name']);
  });
});

describe('parseResourcesOrThrow', () => {
  it('throws a typed error listing every problem', () => {
    expect(() => parseResourcesOrThrow('apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: A}\n', 'x.yaml')).toThrow(ModelValidationError);
    try {
      parseResourcesOrThrow('apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: A}\n', 'x.yaml');
    } catch (e) {
      expect((e as ModelValidationError).code).toBe('MODEL_INVALID');
      expect((e as ModelValidationError).errors[0]!.field).toBe('metadata.name');
    }
  });
});
