import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/metrics.js';
import { GOOD_FILES, LOCKOUT_FILES, statusFleet } from '../support/status-fleet.js';
import { useTmpDirs } from '../support/tmp.js';

/**
 * The rollout page in a real headless Chromium (Debian's, driven over the DevTools protocol by
 * playwright-core; no browser is downloaded). Simulated hosts whose applies take 1.5 s, so the
 * page can be seen catching a host in `applying`.
 */

const CHROMIUM = '/usr/bin/chromium';
const tmp = useTmpDirs();
const TOKEN = 'page-test-token';

async function launch(userDataDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // A phone-sized window: the page must stay legible there.
    viewport: { width: 390, height: 844 },
    timeout: 30_000,
  });
}

describe.skipIf(!existsSync(CHROMIUM))('rollout page in headless Chromium', () => {
  it('follows a rollout live: a host goes applying → confirmed, then a rolled-back canary is shown as such, without a reload', async () => {
    const fleet = await statusFleet(await tmp('palisade-page-'));
    const reconciler = fleet.reconciler();
    await reconciler.load();
    const server = await startHttpServer({
      port: 0,
      onGitHook: () => undefined,
      ready: () => ({ ready: true }),
      registry: createMetrics({ processMetrics: false }).registry,
      status: reconciler.statusSource,
      controlToken: TOKEN,
    });
    const out = await mkdtemp(path.join(os.tmpdir(), 'palisade-rollout-page-'));
    console.log(`rollout page screenshots: ${out}`);
    const context = await launch(await tmp('palisade-chromium-profile-'));
    const failures: string[] = [];
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
      page.on('console', (m) => m.type() === 'error' && failures.push(`console: ${m.text()}`));
      let navigations = 0;
      page.on('framenavigated', (f) => f === page.mainFrame() && navigations++);

      fleet.applyDelayMs = 1500;
      const good = await fleet.repo.commit(GOOD_FILES('2s'), 'Open the web port on every worker');
      const first = reconciler.reconcile();
      // The token once in the URL: the server sets the cookie and redirects to / without it.
      await page.goto(`${server.url}/?token=${TOKEN}`);
      expect(new URL(page.url()).search).toBe('');
      const loaded = navigations;

      await page.locator('.wave[data-wave="canary"] [data-host="node-a"][data-state="applying"]').waitFor({ timeout: 20_000 });
      await page.screenshot({ path: path.join(out, '1-canary-applying.png'), fullPage: true });
      const soak = page.locator('[data-host="node-a"][data-state="soaking"] .soak');
      await soak.waitFor({ timeout: 20_000 });
      expect(await soak.textContent()).toMatch(/^ · soak [0-2] s left$/);
      await page.locator('.wave[data-wave="rest"] [data-host="node-b"][data-state="applying"]').waitFor({ timeout: 20_000 });
      await expect.poll(() => page.locator('[data-host="node-a"]').getAttribute('data-state'), { timeout: 5000 }).toBe('confirmed');
      await page.locator('#phase[data-phase="completed"]').waitFor({ timeout: 20_000 });
      await first;
      await page.screenshot({ path: path.join(out, '2-completed.png'), fullPage: true });
      expect(await page.locator(`tr[data-revision="${good}"]`).getAttribute('data-phase')).toBe('completed');

      fleet.applyDelayMs = 0;
      const bad = await fleet.repo.commit(LOCKOUT_FILES, 'Tighten SSH: deny tcp/22, no failsafe ports');
      await reconciler.reconcile();
      const canary = page.locator('.wave[data-wave="canary"] [data-host="node-a"]');
      await page.locator('#phase[data-phase="halted"]').waitFor({ timeout: 20_000 });
      await expect.poll(() => canary.getAttribute('data-state'), { timeout: 5000 }).toBe('rolledBack');
      expect(await canary.innerText()).toMatch(/rolledBack[\s\S]*FAILED ssh-from-management: ssh\/22 from management to node-a/);
      expect(await page.locator('#current h1').innerText()).toContain(`${bad.slice(0, 8)} Tighten SSH: deny tcp/22, no failsafe ports`);
      expect(await page.locator('#failing').innerText()).toMatch(/^node-a rolledBack: checks failed after apply: ssh-from-management/);
      expect(await page.locator('.wave[data-wave="rest"] [data-host="node-b"]').getAttribute('data-state')).toBe('queued');
      expect(await page.locator('#revisions tr').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-revision')?.slice(0, 8)} ${r.getAttribute('data-phase')}`))).toEqual([
        `${bad.slice(0, 8)} halted`,
        `${good.slice(0, 8)} completed`,
      ]);
      // The live event list carried the transitions, newest first.
      expect(await page.locator('#events li').first().innerText()).toMatch(/rollout of .* halted \(failed: node-a\)/);
      expect(await page.locator('#conn').textContent()).toBe('live');
      await page.screenshot({ path: path.join(out, '3-canary-rolled-back.png'), fullPage: true });

      // Everything happened in the one document the first load opened.
      expect(navigations).toBe(loaded);
      // Nothing is wider than the phone-sized window.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(failures).toEqual([]);
    } finally {
      await context.close();
      await server.close();
      await fleet.close();
    }
  }, 90_000);
});
