import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { parseConfigFile } from '../model/config-file.js';
import type { ModelError } from '../model/errors.js';
import { strictObject } from '../model/strict.js';
import { Duration } from '../rollout/duration.js';
import { NOTIFY_KINDS, type NotifyKind } from './kinds.js';

/**
 * The notify file (`palisade reconcile --notify FILE`, `palisade validate --notify FILE`):
 * providers say where notifications go, alerts route event kinds to providers. Secrets are
 * never in the file, only the names of the environment variables holding them.
 */

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable (letters, digits, _)');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });
/** How long one delivery attempt may take before it counts as failed and is retried. */
const timeout = Duration.optional();

const destination = { url: httpUrl.optional(), urlEnv: envName.optional() };
const oneDestination = (p: { url?: string | undefined; urlEnv?: string | undefined }, ctx: z.RefinementCtx) => {
  if ((p.url === undefined) === (p.urlEnv === undefined)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'give exactly one of url and urlEnv' });
};

export const WebhookProvider = strictObject({
  name: z.string().min(1),
  type: z.literal('webhook'),
  ...destination,
  /** HMAC-SHA256 of the body with this variable's value, in `X-Palisade-Signature-256`. */
  secretEnv: envName.optional(),
  timeout,
}).superRefine(oneDestination);

export const SlackProvider = strictObject({
  name: z.string().min(1),
  type: z.literal('slack'),
  /** Slack's incoming-webhook URL is itself the secret: prefer urlEnv. */
  ...destination,
  timeout,
}).superRefine(oneDestination);

export const GithubProvider = strictObject({
  name: z.string().min(1),
  type: z.literal('github'),
  /** `owner/name` of the policy repository: statuses are set on its commits. */
  repository: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/name'),
  tokenEnv: envName,
  apiUrl: httpUrl.default('https://api.github.com'),
  context: z.string().min(1).default('palisade/rollout'),
  timeout,
});

export const ProviderSpec = z.discriminatedUnion('type', [WebhookProvider, SlackProvider, GithubProvider]);
export type ProviderSpec = z.output<typeof ProviderSpec>;

export const AlertSpec = strictObject({
  providers: z.array(z.string().min(1)).min(1),
  on: z.array(z.enum([...NOTIFY_KINDS, 'all'])).min(1),
});

export const NotifyConfig = strictObject({
  providers: z.array(ProviderSpec).min(1),
  alerts: z.array(AlertSpec).min(1),
}).superRefine((config, ctx) => {
  const seen = new Set<string>();
  config.providers.forEach((p, i) => {
    if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['providers', i, 'name'], message: `provider "${p.name}" is defined twice` });
    seen.add(p.name);
  });
  const routed = new Set<string>();
  config.alerts.forEach((a, i) =>
    a.providers.forEach((name, j) => {
      routed.add(name);
      if (!seen.has(name)) ctx.addIssue({ code: 'custom', path: ['alerts', i, 'providers', j], message: `no provider is named "${name}" (providers: ${[...seen].join(', ')})` });
    }),
  );
  config.providers.forEach((p, i) => {
    if (!routed.has(p.name)) ctx.addIssue({ code: 'custom', path: ['providers', i, 'name'], message: `provider "${p.name}" is in no alert, so it would never be sent anything` });
  });
});
export type NotifyConfig = z.output<typeof NotifyConfig>;

/** Each provider's kinds: the union of the alerts naming it (`all` = every kind). */
export function routesOf(config: NotifyConfig): Map<string, Set<NotifyKind>> {
  const routes = new Map(config.providers.map((p) => [p.name, new Set<NotifyKind>()]));
  for (const a of config.alerts) {
    const kinds = a.on.includes('all') ? NOTIFY_KINDS : (a.on as NotifyKind[]);
    for (const name of a.providers) for (const k of kinds) routes.get(name)?.add(k);
  }
  return routes;
}

export interface ParsedNotifyFile {
  config: NotifyConfig | null;
  errors: ModelError[];
  /** Environment variables the file names that are not set (an error for `reconcile`, a warning for `validate`). */
  unset: ModelError[];
}

/** Parses and checks a notify file; `env` decides which named variables are unset. */
export function parseNotifyFile(content: string | Uint8Array, file: string, env: NodeJS.ProcessEnv = process.env): ParsedNotifyFile {
  const { value, errors, locate } = parseConfigFile(content, file, NotifyConfig, 'NotifyConfig');
  if (!value) return { config: null, errors, unset: [] };
  const unset: ModelError[] = [];
  value.providers.forEach((p, i) => {
    for (const field of ['urlEnv', 'secretEnv', 'tokenEnv'] as const) {
      const name = (p as Partial<Record<typeof field, string>>)[field];
      if (name === undefined || env[name]) continue;
      unset.push({ code: 'NOTIFY_ENV_UNSET', file, ...locate(['providers', i, field]), kind: 'NotifyConfig', field: `providers[${i}].${field}`, message: `environment variable ${name} is not set (provider "${p.name}")` });
    }
  });
  return { config: value, errors, unset };
}

export async function readNotifyFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ParsedNotifyFile> {
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (e) {
    return { config: null, errors: [{ code: 'READ_ERROR', file, line: 1, col: 1, message: `cannot read the notify file: ${(e as Error).message}` }], unset: [] };
  }
  return parseNotifyFile(content, file, env);
}
