import type { Logger } from '../log/logger.js';
import { routesOf, type NotifyConfig, type ProviderSpec } from './config.js';
import { startNotifier, type Channel, type Notifier, type NotifySource } from './notifier.js';
import { githubProvider } from './providers/github.js';
import type { Provider } from './providers/provider.js';
import { slackProvider } from './providers/slack.js';
import { webhookProvider } from './providers/webhook.js';

export { readNotifyFile, parseNotifyFile, type NotifyConfig, type ParsedNotifyFile } from './config.js';
export type { Notifier, NotifySource } from './notifier.js';

const DEFAULT_TIMEOUT_MS = 10_000;

export interface NotifyRuntime {
  /** `stateLayout(...).notify`. */
  dir: string;
  source: NotifySource;
  logger: Logger;
  /** Base of the rollout page, for links (`--public-url`). */
  publicUrl?: string;
  env?: NodeJS.ProcessEnv;
  retry?: { initialMs?: number; maxMs?: number };
}

/** Starts delivering the configuration's notifications (its environment variables checked by `readNotifyFile`). */
export function startNotifications(config: NotifyConfig, rt: NotifyRuntime): Notifier {
  const env = rt.env ?? process.env;
  const secrets: string[] = [];
  const fromEnv = (name: string) => {
    const value = env[name] ?? '';
    secrets.push(value);
    return value;
  };
  const routes = routesOf(config);
  const publicUrl = rt.publicUrl ? { publicUrl: rt.publicUrl } : {};
  const build = (p: ProviderSpec): Provider => {
    switch (p.type) {
      case 'webhook':
        return webhookProvider({ name: p.name, url: p.url ?? fromEnv(p.urlEnv!), ...(p.secretEnv ? { secret: fromEnv(p.secretEnv) } : {}), ...publicUrl });
      case 'slack':
        return slackProvider({ name: p.name, url: p.url ?? fromEnv(p.urlEnv!), ...publicUrl });
      case 'github':
        return githubProvider({ name: p.name, repository: p.repository, token: fromEnv(p.tokenEnv), apiUrl: p.apiUrl, context: p.context, ...publicUrl });
    }
  };
  const channels: Channel[] = config.providers.map((p) => ({ provider: build(p), kinds: routes.get(p.name)!, timeoutMs: p.timeout ?? DEFAULT_TIMEOUT_MS }));
  return startNotifier({ source: rt.source, channels, dir: rt.dir, logger: rt.logger, secrets, ...(rt.retry ? { retry: rt.retry } : {}) });
}
