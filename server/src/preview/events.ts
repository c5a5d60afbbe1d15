// PURE: GitLab `Merge Request Hook` and GitHub `pull_request` payloads, validated (zod), as a preview request
// or a reason to ignore the delivery. Only the fields used are checked; everything else is ignored.
import { z } from 'zod';

export interface PreviewEvent {
  source: 'gitlab' | 'github';
  /** GitLab project id, or GitHub owner/repo. */
  project: string;
  /** Merge request iid / pull request number. */
  number: number;
  headSha: string;
  targetBranch: string;
  url: string | null;
  actor: string | null;
}

export type PreviewParse = { ok: true; event: PreviewEvent } | { ok: false; status: 400; reason: string } | { ok: false; status: 200; ignored: string };

const sha = z.string().regex(/^[0-9a-f]{40}$|^[0-9a-f]{64}$/, 'must be a commit id');
const branch = z.string().min(1).max(255);
const url = z.string().max(2000).nullish();

const gitlabSchema = z.object({
  object_kind: z.literal('merge_request'),
  user: z.object({ username: z.string().max(255).optional() }).optional(),
  project: z.object({ id: z.number().int().positive() }),
  object_attributes: z.object({
    iid: z.number().int().positive(),
    action: z.string().max(64).optional(),
    oldrev: sha.optional(),
    target_branch: branch,
    last_commit: z.object({ id: sha }),
    url,
  }),
});

const githubSchema = z.object({
  action: z.string().max(64),
  number: z.number().int().positive(),
  pull_request: z.object({
    head: z.object({ sha }),
    base: z.object({ ref: branch }),
    html_url: url,
  }),
  repository: z.object({ full_name: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/repo') }),
  sender: z.object({ login: z.string().max(255) }).optional(),
});

function problem(err: z.ZodError): string {
  return err.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ');
}

const GITHUB_ACTIONS = new Set(['opened', 'synchronize', 'reopened']);

/** A GitLab merge request event: open, reopen, and update with new commits (oldrev) make a preview. */
export function parseGitlabMergeRequest(body: unknown): PreviewParse {
  const p = gitlabSchema.safeParse(body);
  if (!p.success) return { ok: false, status: 400, reason: `not a merge request event: ${problem(p.error)}` };
  const a = p.data.object_attributes;
  const action = a.action ?? '';
  const wanted = action === 'open' || action === 'reopen' || (action === 'update' && a.oldrev !== undefined);
  if (!wanted) return { ok: false, status: 200, ignored: action === 'update' ? 'merge request update without new commits' : `merge request action ${JSON.stringify(action)} is not previewed` };
  return { ok: true, event: { source: 'gitlab', project: String(p.data.project.id), number: a.iid, headSha: a.last_commit.id, targetBranch: a.target_branch, url: a.url ?? null, actor: p.data.user?.username ?? null } };
}

/** A GitHub pull_request event: opened, synchronize and reopened make a preview. */
export function parseGithubPullRequest(body: unknown): PreviewParse {
  const p = githubSchema.safeParse(body);
  if (!p.success) return { ok: false, status: 400, reason: `not a pull_request event: ${problem(p.error)}` };
  const d = p.data;
  if (!GITHUB_ACTIONS.has(d.action)) return { ok: false, status: 200, ignored: `pull request action ${JSON.stringify(d.action)} is not previewed` };
  return { ok: true, event: { source: 'github', project: d.repository.full_name, number: d.number, headSha: d.pull_request.head.sha, targetBranch: d.pull_request.base.ref, url: d.pull_request.html_url ?? null, actor: d.sender?.login ?? null } };
}

/** The ref the forge keeps a merge request's head under (fetched by the server, never taken from the payload). */
export function headRef(e: Pick<PreviewEvent, 'source' | 'number'>): string {
  if (!Number.isSafeInteger(e.number) || e.number < 1) throw new Error('not a merge request number');
  return e.source === 'gitlab' ? `refs/merge-requests/${e.number}/head` : `refs/pull/${e.number}/head`;
}
