import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/demo.js';

describe('npm start on the packet simulator (no root needed)', () => {
  it('confirms the good commit, rolls the bad one back on the canary, and marks every line simulated', async () => {
    let out = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) } };
    const code = await runDemo(['--simulated'], io);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines.every((l) => l.startsWith('[simulated]'))).toBe(true);
    expect(out).toMatch(/→ completed/);
    expect(out).toMatch(/→ halted/);
    expect(out).toMatch(/canary {2}node-a {3}rolledBack — checks failed after apply: ssh-from-management/);
    expect(out).toMatch(/half {4}node-b {3}untouched/);
    expect(out).toMatch(/half {4}node-c {3}untouched/);
    expect(out).toMatch(/node-a: tcp\/22 open, tcp\/80 open, tcp\/8080 blocked/);
    expect(out).toMatch(/SSH is reachable on every host\./);
  });
});
