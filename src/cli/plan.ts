import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { findGitdir } from '../git/local.js';
import { resolveRevision } from '../git/revision.js';
import { normaliseSubdir, openGitSource, type GitSource } from '../git/source.js';
import { ROLLOUT_CONFIG_FILE } from '../rollout/rollout-config.js';
import { computePlan } from '../plan/compute-plan.js';
import { formatGithub } from '../plan/format-github.js';
import { formatMarkdown } from '../plan/format-markdown.js';
import { formatText } from '../plan/format-text.js';
import { targetFromEnv, upsertPlanComment } from '../plan/github-comment.js';
import type { PlanReport } from '../plan/plan-report.js';
import type { RevisionFiles } from '../plan/revision.js';
import { readHostsFile, hostsPolicyMismatch } from '../hosts/hosts-file.js';
import { readRepository } from '../repository/repository.js';
import { desiredStateOf } from '../state/desired-state.js';
import { parseCommand } from './args.js';
import { policyNodes } from './host-source.js';
import { describeError, UsageError, type CommandIO } from './io.js';

export const PLAN_USAGE = `usage: palisade plan --base REV [--head REV] [--repo PATH] [--path DIR] [--hosts FILE]
                     [-o text|markdown|json|github] [--allow-danger]
                     [--management-net CIDR]... [--json-out FILE] [--markdown-out FILE]
       palisade plan comment --body-file FILE [--repository OWNER/NAME] [--pr N] [--api-url URL] [-o text|json]

Says what a change does before it is merged: validation of the head, resource changes field by
field, the hosts it touches and their ruleset diff, the exact set of flows each host gains or
loses (header-space boxes: nothing outside them changes), DANGER when a check's path loses,
the intents of palisade.yaml proven on every host, lints, and the rollout waves.

  --repo PATH          local Git repository (default: .)
  --base REV           the revision the change is compared with: any git revision (origin/main,
                       main~3, a tag, a short commit id)
  --head REV           the change (default: HEAD)
  --path DIR           policy sub-directory (default: the whole repository)
  --hosts FILE         the reconciler's hosts file: warn where it and the head's policy disagree
  -o, --output F       text (default), markdown (pull-request comment), json, github
                       (annotations); --format is the old spelling
  --allow-danger       exit 0 instead of 2 when the plan finds dangers
  --management-net C   a management network, besides GlobalNetworkSets named or labelled so
  --json-out FILE      also write the JSON plan to FILE (the workflow artifact)
  --markdown-out FILE  also write the markdown comment to FILE
  -h, --help           this text

Exit status: 0 fine, 1 the head does not validate, 2 an intent is violated, or dangerous
(unless --allow-danger), 3 the plan could not be made (usage, repository or revision errors).

plan comment: creates or updates the one Palisade comment on a pull request with FILE's text.
Reads GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL and GITHUB_EVENT_PATH as GitHub Actions
sets them; the flags override them.
`;

const EXIT_USAGE = 3;

const PLAN_SPEC = {
  name: 'plan',
  usage: PLAN_USAGE,
  options: {
    repo: { type: 'string', default: '.' },
    base: { type: 'string' },
    head: { type: 'string', default: 'HEAD' },
    path: { type: 'string' },
    hosts: { type: 'string' },
    'management-net': { type: 'strings' },
    'json-out': { type: 'string' },
    'markdown-out': { type: 'string' },
    'allow-danger': { type: 'boolean' },
  },
  output: { formats: ['text', 'markdown', 'json', 'github'], legacy: ['format'] },
  usageExit: EXIT_USAGE,
} as const;

const COMMENT_SPEC = {
  name: 'plan comment',
  usage: PLAN_USAGE,
  options: { 'body-file': { type: 'string' }, repository: { type: 'string' }, pr: { type: 'integer', min: 1 }, 'api-url': { type: 'string' } },
  output: { formats: ['text', 'json'] },
  usageExit: EXIT_USAGE,
} as const;

/** `palisade plan …`; resolves to the exit status. */
export async function runPlan(argv: string[], io: CommandIO): Promise<number> {
  try {
    if (argv[0] === 'comment') return await runComment(argv.slice(1), io);
    return await plan(argv, io);
  } catch (e) {
    // Exits 1 and 2 are verdicts here, so every failure to make a plan is 3.
    const known = describeError('plan', e);
    if (!known) throw e;
    io.stderr.write(`${known.text}\n`);
    return EXIT_USAGE;
  }
}

async function plan(argv: string[], io: CommandIO): Promise<number> {
  const args = parseCommand(argv, PLAN_SPEC, io);
  if (!args) return 0;
  const v = args.values;
  if (!v.base) throw new UsageError('--base is required (e.g. --base origin/main)', EXIT_USAGE);
  const subdir = normaliseSubdir(v.path);
  const hostsFile = v.hosts === undefined ? undefined : await readHostsFile(v.hosts);

  const gitdir = findGitdir(v.repo);
  const source = await openGitSource({ repo: v.repo, branch: 'HEAD', path: subdir, cacheDir: tmpdir() });
  let report: PlanReport;
  let head: RevisionFiles;
  try {
    let base: RevisionFiles;
    [base, head] = await Promise.all([readRevision(source, gitdir, v.base, subdir), readRevision(source, gitdir, v.head, subdir)]);
    report = computePlan(base, head, { managementNets: v['management-net'] });
  } finally {
    await source.close();
  }
  if (hostsFile) {
    const repository = readRepository(head.files, { root: subdir });
    for (const w of hostsPolicyMismatch(hostsFile.hosts.map((h) => h.name), policyNodes(desiredStateOf(repository.resources)))) io.stderr.write(`warning: ${w}\n`);
  }

  if (v['json-out']) await writeFile(v['json-out'], `${JSON.stringify(report, null, 2)}\n`);
  if (v['markdown-out']) await writeFile(v['markdown-out'], formatMarkdown(report));
  const format = args.output;
  io.stdout.write(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : format === 'markdown' ? formatMarkdown(report) : format === 'github' ? formatGithub(report) : formatText(report));
  return exitCode(report, v['allow-danger']);
}

export function exitCode(report: PlanReport, allowDanger: boolean): number {
  if (report.outcome === 'invalid') return 1;
  // A violated intent is the repository's own statement failing: --allow-danger does not waive it.
  if (report.outcome === 'violated') return 2;
  if (report.outcome === 'dangerous' && !allowDanger) return 2;
  return 0;
}

/** A revision's policy files, shown with repository-relative paths so annotations land on them. */
async function readRevision(source: GitSource, gitdir: string, ref: string, subdir: string): Promise<RevisionFiles> {
  const commit = await resolveRevision(gitdir, ref);
  const prefix = subdir ? `${subdir}/` : '';
  // Hidden entries (.github workflows, .gitlab-ci.yml) are not policy, as `palisade validate` has it;
  // the Git source lists them, so they are dropped here.
  const files = (await source.readFiles(commit)).map((f) => ({ ...f, path: `${prefix}${f.path}` }));
  return { ref, commit, files, configPath: `${prefix}${ROLLOUT_CONFIG_FILE}` };
}

async function runComment(argv: string[], io: CommandIO): Promise<number> {
  const args = parseCommand(argv, COMMENT_SPEC, io);
  if (!args) return 0;
  const v = args.values;
  const bodyFile = v['body-file'];
  if (bodyFile === undefined) throw new UsageError('plan comment needs --body-file FILE', EXIT_USAGE, 'plan comment');
  const eventPath = process.env.GITHUB_EVENT_PATH;
  const event = eventPath ? (JSON.parse(await readFile(eventPath, 'utf8')) as unknown) : undefined;
  const target = targetFromEnv(process.env, event, {
    ...(v.repository ? { repository: v.repository } : {}),
    ...(v.pr !== undefined ? { issue: v.pr } : {}),
    ...(v['api-url'] ? { apiUrl: v['api-url'] } : {}),
  });
  const result = await upsertPlanComment(target, await readFile(bodyFile, 'utf8'));
  if (args.output === 'json') io.stdout.write(`${JSON.stringify(result)}\n`);
  else io.stdout.write(`${result.action} comment ${result.id}: ${result.url}${result.deleted.length > 0 ? ` (removed ${result.deleted.length} duplicate(s))` : ''}\n`);
  return 0;
}
