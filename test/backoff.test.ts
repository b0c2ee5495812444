import { describe, expect, it } from 'vitest';
import { backoffDelay, withBackoff } from '../src/backoff.js';
import { GitSourceError } from '../src/git/errors.js';

describe('withBackoff', () => {
  it('doubles the delay up to the cap', () => {
    const mid = () => 0.5; // no jitter
    expect([1, 2, 3, 4, 5, 10, 60].map((a) => backoffDelay(a, 100, 1_000, mid))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(backoffDelay(1, 100, 1_000, () => 0)).toBe(80);
    expect(backoffDelay(20, 100, 1_000, () => 0.999)).toBe(1000);
  });

  it('retries retryable failures and gives up at once on the others', async () => {
    const slept: number[] = [];
    const sleep = async (ms: number) => void slept.push(ms);
    let calls = 0;
    const value = await withBackoff(
      async () => {
        if (++calls < 3) throw new GitSourceError('GIT_UNREACHABLE', 'down');
        return 'ok';
      },
      { initialMs: 10, random: () => 0.5, sleep },
    );
    expect(value).toBe('ok');
    expect(slept).toEqual([10, 20]);

    calls = 0;
    await expect(withBackoff(async () => (calls++, Promise.reject(new GitSourceError('GIT_AUTH', 'no'))), { sleep })).rejects.toMatchObject({ code: 'GIT_AUTH' });
    expect(calls).toBe(1);
    await expect(withBackoff(async () => Promise.reject(new GitSourceError('GIT_UNREACHABLE', 'down')), { attempts: 3, sleep })).rejects.toMatchObject({ code: 'GIT_UNREACHABLE' });
  });
});
