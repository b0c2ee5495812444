import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { PLAN_USAGE } from '../../src/cli/plan.js';

interface Step {
  name?: string;
  run?: string;
  if?: string;
  uses?: string;
  env?: Record<string, string>;
}

describe('the example pull-request workflow', () => {
  it('plans with flags the CLI knows, publishes the artifact and the one comment, then fails on danger', async () => {
    const wf = parse(await readFile(new URL('../../policies-example/.github/workflows/palisade-plan.yml', import.meta.url), 'utf8')) as {
      on: Record<string, unknown>;
      permissions: Record<string, string>;
      jobs: { plan: { steps: Step[] } };
    };
    expect(Object.keys(wf.on)).toEqual(['pull_request']);
    expect(wf.permissions['pull-requests']).toBe('write');
    const steps = wf.jobs.plan.steps;
    const runs = steps.map((s) => s.run ?? '').join('\n');
    for (const flag of runs.match(/--[a-z-]+/g) ?? []) if (!['--global', '--no-audit', '--no-fund', '--pack-destination', '--version'].includes(flag)) expect(PLAN_USAGE).toContain(flag);
    // No ${{ }} expression is expanded inside a script: values reach the shell through env only.
    for (const s of steps) expect(s.run ?? '').not.toContain('${{');
    const comment = steps.find((s) => s.run?.startsWith('palisade plan comment'));
    expect(comment?.if).toContain('always()');
    expect(comment?.env?.GITHUB_TOKEN).toBe('${{ secrets.GITHUB_TOKEN }}');
    expect(steps.at(-1)?.run).toBe('exit "${STATUS:-3}"');
  });
});
