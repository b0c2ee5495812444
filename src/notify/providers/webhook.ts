import { signBody } from '../../http/signature.js';
import { summaryOf, type Notification } from '../notifications.js';
import { postJson, type Provider } from './provider.js';

export const SIGNATURE_HEADER = 'x-palisade-signature-256';
export const DELIVERY_HEADER = 'x-palisade-delivery';

/** The JSON a webhook receives: the notification, `event` naming its kind, and a line for people. */
export function webhookBody(n: Notification, publicUrl: string | undefined): Record<string, unknown> {
  const { kind, ...rest } = n;
  return { event: kind, ...rest, summary: summaryOf(n), ...(publicUrl ? { url: rolloutPageUrl(publicUrl, n.revision) } : {}) };
}

export const rolloutPageUrl = (publicUrl: string, revision: string) => `${publicUrl.replace(/\/+$/, '')}/?revision=${revision}`;

export function webhookProvider(opts: { name: string; url: string; secret?: string; publicUrl?: string }): Provider {
  return {
    name: opts.name,
    type: 'webhook',
    accepts: () => true,
    async deliver(n, signal) {
      const body = JSON.stringify(webhookBody(n, opts.publicUrl));
      const headers: Record<string, string> = { [DELIVERY_HEADER]: n.id, 'x-palisade-event': n.kind };
      if (opts.secret) headers[SIGNATURE_HEADER] = signBody(opts.secret, body);
      await postJson(opts.url, body, headers, signal);
    },
  };
}
