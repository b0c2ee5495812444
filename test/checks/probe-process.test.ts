import { describe, expect, it } from 'vitest';
import { runProbeProcess } from '../../src/checks/probes/probe-process.js';
import { isRoot, sh, uniqueName } from '../support/netns.js';

describe('probe processes', () => {
  it('a command that does not exist is a missing tool, not a closed port', async () => {
    await expect(runProbeProcess({}, 'palisade-no-such-tool', [], 5000)).rejects.toMatchObject({ code: 'PROBE_TOOL_MISSING' });
  });

  it('a command that overruns its limit is killed', async () => {
    await expect(runProbeProcess({}, process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], 300)).rejects.toMatchObject({ code: 'PROBE_KILLED' });
  });

  it('hands back exit code and output of a command that ran', async () => {
    await expect(runProbeProcess({}, process.execPath, ['-e', 'process.stdout.write("hi"); process.exit(3)'], 5000)).resolves.toEqual({ code: 3, stdout: 'hi', stderr: '' });
  });

  it.skipIf(!isRoot)('tells a missing namespace and a missing tool inside one apart from the probe failing', async () => {
    await expect(runProbeProcess({ namespace: uniqueName('pnone') }, 'true', [], 5000)).rejects.toMatchObject({ code: 'PROBE_NAMESPACE_UNAVAILABLE' });
    const namespace = uniqueName('pproc');
    await sh('ip', ['netns', 'add', namespace]);
    try {
      await expect(runProbeProcess({ namespace }, 'palisade-no-such-tool', [], 5000)).rejects.toMatchObject({ code: 'PROBE_TOOL_MISSING' });
      await expect(runProbeProcess({ namespace }, 'sh', ['-c', 'exit 1'], 5000)).resolves.toMatchObject({ code: 1 });
    } finally {
      await sh('ip', ['netns', 'del', namespace]);
    }
  });
});
