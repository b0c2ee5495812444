import { summaryOf, type Notification } from '../notifications.js';
import { postJson, type Provider } from './provider.js';
import { DELIVERY_HEADER, rolloutPageUrl } from './webhook.js';

const MARK: Record<Notification['kind'], string> = {
  started: ':arrow_forward:',
  confirmed: ':white_check_mark:',
  completed: ':white_check_mark:',
  rolledBack: ':rewind:',
  failed: ':rotating_light:',
  unreachable: ':warning:',
  rejected: ':no_entry:',
  halted: ':octagonal_sign:',
  aborted: ':stop_button:',
  superseded: ':fast_forward:',
  drift: ':warning:',
};

/** Slack's incoming-webhook message: `text` in mrkdwn, with `&`, `<`, `>` escaped as Slack asks. */
export function slackMessage(n: Notification, publicUrl: string | undefined): { text: string } {
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const link = publicUrl ? ` <${rolloutPageUrl(publicUrl, n.revision)}|rollout page>` : '';
  return { text: `${MARK[n.kind]} *palisade* ${escape(summaryOf(n))}${link}` };
}

export function slackProvider(opts: { name: string; url: string; publicUrl?: string }): Provider {
  return {
    name: opts.name,
    type: 'slack',
    accepts: () => true,
    async deliver(n, signal) {
      await postJson(opts.url, JSON.stringify(slackMessage(n, opts.publicUrl)), { [DELIVERY_HEADER]: n.id }, signal);
    },
  };
}
