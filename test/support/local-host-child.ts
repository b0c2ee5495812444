// Run inside a scratch network namespace by test/hosts/local-host.test.ts: drives LocalHost
// (nft and ip in "this machine's" namespace, which here is the scratch one) and reports as JSON.
import { SSH_FAILSAFE_CHECK } from '../../src/checks/check-spec.js';
import { CompileContext } from '../../src/compiler/context.js';
import { LocalHost } from '../../src/hosts/local-host.js';
import { readRepository } from '../../src/repository/repository.js';
import { rulesetFor } from '../../src/reconciler/planner.js';
import { desiredStateOf } from '../../src/state/desired-state.js';

const policy = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: me-dummy0
spec:
  node: me
  interfaceName: dummy0
  expectedIPs: ["198.18.7.1"]
`;
const host = new LocalHost('me', '198.18.7.1', { manageThisMachine: false });
const interfaces = await host.readInterfaces();
const repo = readRepository([{ path: 'hep.yaml', content: policy }]);
const ruleset = rulesetFor(new CompileContext(desiredStateOf(repo.resources)), 'me', interfaces);
const before = await host.current();
const dryRun = await host.dryRun(ruleset);
await host.apply(ruleset);
const applied = await host.current();
const ssh = await host.check({ ...SSH_FAILSAFE_CHECK, timeoutMs: 300 });
await host.restore(before);
const after = await host.current();
process.stdout.write(JSON.stringify({ interfaces: interfaces.map((i) => i.name), before, dryRun, applied, sshOk: ssh.ok, after }));
