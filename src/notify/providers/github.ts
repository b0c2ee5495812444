import { Octokit } from '@octokit/core';
import type { Notification } from '../notifications.js';
import { DeliveryError, isRetryableStatus, type Provider } from './provider.js';
import { DELIVERY_HEADER, rolloutPageUrl } from './webhook.js';

export type CommitState = 'pending' | 'success' | 'failure' | 'error';
export interface CommitStatus {
  state: CommitState;
  description: string;
}

/** GitHub keeps at most 1,000 statuses per commit and context: a big fleet reports progress in about 20 steps. */
const PROGRESS_STEPS = 20;
const DESCRIPTION_MAX = 140;

const clip = (s: string) => (s.length > DESCRIPTION_MAX ? `${s.slice(0, DESCRIPTION_MAX - 1)}…` : s);
const counted = (n: Notification) => `${n.progress?.confirmed ?? 0}/${n.progress?.total ?? 0} hosts confirmed`;
const failureText = (n: Notification) => (n.failure ? `${n.failure.host}: ${n.failure.check ?? n.failure.reason ?? 'failed'}` : (n.failedHosts ?? []).join(', ') || 'no host named');

function progressWorthReporting(p: Notification['progress']): boolean {
  if (!p || p.total <= PROGRESS_STEPS || p.confirmed === p.total) return true;
  const step = (k: number) => Math.floor((k * PROGRESS_STEPS) / p.total);
  return step(p.confirmed) !== step(p.confirmed - 1);
}

/** The commit status a notification sets, or null when it does not change what the commit shows. */
export function commitStatusOf(n: Notification): CommitStatus | null {
  const status = (state: CommitState, description: string) => ({ state, description: clip(description) });
  switch (n.kind) {
    case 'started':
      return status('pending', counted(n));
    case 'confirmed':
      return progressWorthReporting(n.progress) ? status('pending', counted(n)) : null;
    case 'rolledBack':
    case 'failed':
    case 'unreachable':
    case 'rejected':
      if (n.host) return status('pending', `${counted(n)}; ${n.host} ${n.kind === 'rolledBack' ? 'rolled back' : n.kind}${n.failedChecks?.[0] ? `: ${n.failedChecks[0]}` : ''}`);
      if (n.kind === 'rejected') return status('failure', `rejected, nothing applied: ${n.reason ?? ''}`);
      return status('failure', `rolled back: ${failureText(n)}`);
    case 'halted':
      return status('failure', `halted: ${failureText(n)}`);
    case 'completed':
      return status('success', counted(n));
    case 'aborted':
      return status('error', `aborted by an operator (${counted(n)})`);
    case 'superseded':
      return status('error', 'superseded by a newer commit before it finished');
    case 'drift':
      return null;
  }
}

export interface GithubProviderOptions {
  name: string;
  /** `owner/name`. */
  repository: string;
  token: string;
  apiUrl: string;
  context: string;
  publicUrl?: string;
}

/**
 * Commit statuses on the policy repository, through @octokit/core (`POST
 * /repos/{owner}/{repo}/statuses/{sha}`). Octokit's own logging goes nowhere: its messages can
 * carry request details, and ours say what failed.
 */
export function githubProvider(opts: GithubProviderOptions): Provider {
  const [owner, repo] = opts.repository.split('/') as [string, string];
  const silent = () => undefined;
  const octokit = new Octokit({ auth: opts.token, baseUrl: opts.apiUrl.replace(/\/+$/, ''), userAgent: 'palisade', log: { debug: silent, info: silent, warn: silent, error: silent } });
  return {
    name: opts.name,
    type: 'github',
    accepts: (n) => commitStatusOf(n) !== null,
    async deliver(n, signal) {
      const status = commitStatusOf(n);
      if (!status) return;
      try {
        await octokit.request('POST /repos/{owner}/{repo}/statuses/{sha}', {
          owner,
          repo,
          sha: n.revision,
          state: status.state,
          description: status.description,
          context: opts.context,
          ...(opts.publicUrl ? { target_url: rolloutPageUrl(opts.publicUrl, n.revision) } : {}),
          // GitHub ignores it; a proxy or a fake in between can deduplicate with it.
          headers: { [DELIVERY_HEADER]: n.id },
          request: { signal },
        });
      } catch (e) {
        const err = e as Error & { status?: number };
        if (err.name === 'AbortError' || err.name === 'TimeoutError') throw new DeliveryError('timed out', true);
        const status = typeof err.status === 'number' ? err.status : 0;
        // Octokit's message for a refused connection is the socket error; for an answer, GitHub's message.
        throw new DeliveryError(status && status !== 500 ? `answered ${status}: ${err.message}` : err.message, status === 0 || isRetryableStatus(status), status || undefined);
      }
    },
  };
}
