import * as fs from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import git from 'isomorphic-git';
import { findGitdir } from '../git/local.js';
import { normaliseSubdir, openGitSource, type GitSource } from '../git/source.js';
import { ROLLOUT_CONFIG_FILE } from '../rollout/rollout-config.js';
import { computePlan } from '../plan/compute-plan.js';
import { formatGithub } from '../plan/format-github.js';
import { formatMarkdown } from '../plan/format-markdown.js';
import { formatText } from '../plan/format-text.js';
import { targetFromEnv, upsertPlanComment } from '../plan/github-comment.js';
import type { PlanReport } from '../plan/plan-report.js';
import type { RevisionFiles } from '../plan/revision.js';
import { UsageError, type CommandIO } from './io.js';

export const PLAN_USAGE = `usage: palisade plan --base REF [--head REF] [--repo PATH] [--path DIR]
                     [--format text|markdown|json|github] [--allow-danger]
                     [--management-net CIDR]... [--json-out FILE] [--markdown-out FILE]
       palisade plan comment --body-file FILE [--repository OWNER/NAME] [--pr N] [--api-url URL]

Says what a change does before it is merged: validation of the head, resource changes field by
field, the hosts it touches and their ruleset diff, every connection it opens or closes (from the
simulator, on both revisions), DANGER when a check's path closes, lints, and the rollout waves.

  --repo PATH          local Git repository (default: .)
  --base REF           the revision the change is compared with (branch, remote branch, tag, commit)
  --head REF           the change (default: HEAD)
  --path DIR           policy sub-directory (default: the whole repository)
  --format F           text (default), markdown (pull-request comment), json, github (annotations)
  --allow-danger       exit 0 instead of 2 when the plan finds dangers
  --management-net C   a management network, besides GlobalNetworkSets named or labelled so
  --json-out FILE      also write the JSON plan to FILE (the workflow artifact)
  --markdown-out FILE  also write the markdown comment to FILE

Exit status: 0 fine, 1 the head does not validate, 2 dangerous (unless --allow-danger),
3 the plan could not be made (usage, repository or reference errors).

plan comment: creates or updates the one Palisade comment on a pull request with FILE's text.
Reads GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL and GITHUB_EVENT_PATH as GitHub Actions
sets them; the flags override them.
`;

const EXIT_USAGE = 3;
type Format = 'text' | 'markdown' | 'json' | 'github';
const FORMATS: readonly Format[] = ['text', 'markdown', 'json', 'github'];

export class PlanRefError extends Error {
  readonly code = 'PLAN_REF_NOT_FOUND';
}

/** `palisade plan …`; resolves to the exit status. */
export async function runPlan(argv: string[], io: CommandIO): Promise<number> {
  try {
    if (argv[0] === 'comment') return await runComment(argv.slice(1), io);
    return await plan(argv, io);
  } catch (e) {
    const err = e as Error & { code?: string };
    io.stderr.write(`palisade plan: ${err.message}${err.code && !(e instanceof UsageError) ? ` [${err.code}]` : ''}\n`);
    if (e instanceof UsageError) io.stderr.write(PLAN_USAGE);
    return EXIT_USAGE;
  }
}

async function plan(argv: string[], io: CommandIO): Promise<number> {
  const flags = parseArgs(argv, ['--repo', '--base', '--head', '--path', '--format', '--management-net', '--json-out', '--markdown-out'], ['--allow-danger', '--help', '-h']);
  if (flags.has('--help') || flags.has('-h')) {
    io.stdout.write(PLAN_USAGE);
    return 0;
  }
  const one = (name: string) => flags.get(name)?.at(-1);
  const baseRef = one('--base');
  if (!baseRef) throw new UsageError('--base is required (e.g. --base origin/main)');
  const format = (one('--format') ?? 'text') as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got ${format})`);
  const repo = one('--repo') ?? '.';
  const subdir = normaliseSubdir(one('--path'));

  const gitdir = findGitdir(repo);
  const source = await openGitSource({ repo, branch: 'HEAD', path: subdir, cacheDir: tmpdir() });
  let report: PlanReport;
  try {
    const [base, head] = await Promise.all([readRevision(source, gitdir, baseRef, subdir), readRevision(source, gitdir, one('--head') ?? 'HEAD', subdir)]);
    report = computePlan(base, head, { managementNets: flags.get('--management-net') ?? [] });
  } finally {
    await source.close();
  }

  const jsonOut = one('--json-out');
  const markdownOut = one('--markdown-out');
  if (jsonOut) await writeFile(jsonOut, `${JSON.stringify(report, null, 2)}\n`);
  if (markdownOut) await writeFile(markdownOut, formatMarkdown(report));
  io.stdout.write(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : format === 'markdown' ? formatMarkdown(report) : format === 'github' ? formatGithub(report) : formatText(report));
  return exitCode(report, flags.has('--allow-danger'));
}

export function exitCode(report: PlanReport, allowDanger: boolean): number {
  if (report.outcome === 'invalid') return 1;
  if (report.outcome === 'dangerous' && !allowDanger) return 2;
  return 0;
}

/** A revision's policy files, shown with repository-relative paths so annotations land on them. */
async function readRevision(source: GitSource, gitdir: string, ref: string, subdir: string): Promise<RevisionFiles> {
  const commit = await resolveCommit(gitdir, ref);
  const prefix = subdir ? `${subdir}/` : '';
  // Hidden entries (.github workflows, .gitlab-ci.yml) are not policy, as `palisade validate` has it;
  // the Git source lists them, so they are dropped here.
  const files = (await source.readFiles(commit)).map((f) => ({ ...f, path: `${prefix}${f.path}` }));
  return { ref, commit, files, configPath: `${prefix}${ROLLOUT_CONFIG_FILE}` };
}

async function resolveCommit(gitdir: string, ref: string): Promise<string> {
  try {
    const oid = /^[0-9a-f]{4,39}$/i.test(ref) ? await git.expandOid({ fs, gitdir, oid: ref.toLowerCase() }) : await git.resolveRef({ fs, gitdir, ref });
    // An annotated tag points at a tag object; the plan needs its commit.
    return (await git.readCommit({ fs, gitdir, oid })).oid;
  } catch (e) {
    if ((e as { code?: string }).code === 'NotFoundError' || (e as { code?: string }).code === 'ObjectTypeError') {
      const peeled = await git.resolveRef({ fs, gitdir, ref }).catch(() => null);
      if (peeled) {
        const tag = await git.readTag({ fs, gitdir, oid: peeled }).catch(() => null);
        if (tag) return tag.tag.object;
      }
      throw new PlanRefError(`${ref} is not a branch, tag or commit of ${gitdir} (fetch it first, e.g. git fetch origin main)`);
    }
    throw e;
  }
}

/** `--flag value` / `--flag=value`; value flags may repeat (`--management-net A --management-net B`). */
function parseArgs(argv: readonly string[], valueFlags: readonly string[], bools: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.indexOf('=');
    const [flag, inline] = eq > 0 ? [raw.slice(0, eq), raw.slice(eq + 1)] : [raw, undefined];
    if (bools.includes(flag)) out.set(flag, []);
    else if (valueFlags.includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
      out.set(flag, [...(out.get(flag) ?? []), value]);
    } else throw new UsageError(`unknown argument ${raw}`);
  }
  return out;
}

async function runComment(argv: string[], io: CommandIO): Promise<number> {
  const flags = parseArgs(argv, ['--body-file', '--repository', '--pr', '--api-url'], ['--help', '-h']);
  if (flags.has('--help') || flags.has('-h')) {
    io.stdout.write(PLAN_USAGE);
    return 0;
  }
  const str = (k: string) => flags.get(k)?.at(-1);
  const bodyFile = str('--body-file');
  if (bodyFile === undefined) throw new UsageError('plan comment needs --body-file FILE');
  const pr = str('--pr');
  if (pr !== undefined && !/^[0-9]+$/.test(pr)) throw new UsageError('--pr must be a pull-request number');
  const eventPath = process.env.GITHUB_EVENT_PATH;
  const event = eventPath ? (JSON.parse(await readFile(eventPath, 'utf8')) as unknown) : undefined;
  const target = targetFromEnv(process.env, event, {
    ...(str('--repository') ? { repository: str('--repository')! } : {}),
    ...(pr ? { issue: Number(pr) } : {}),
    ...(str('--api-url') ? { apiUrl: str('--api-url')! } : {}),
  });
  const result = await upsertPlanComment(target, await readFile(bodyFile, 'utf8'));
  io.stdout.write(`${result.action} comment ${result.id}: ${result.url}${result.deleted.length > 0 ? ` (removed ${result.deleted.length} duplicate(s))` : ''}\n`);
  return 0;
}
