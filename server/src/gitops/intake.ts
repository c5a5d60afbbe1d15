// What a verified push event turns into: nothing (other branch, deletion, duplicate, already deployed) or a queued deployment.
import type { AppContext } from '../context.js';
import * as rec from '../db/deployments.js';
import { type PushEvent, isBranchDeletion } from './push-event.js';

export interface IntakeResult { status: 200 | 202; body: { queued: number[]; coalesced?: boolean; ignored?: string } }

export async function acceptPush(ctx: AppContext, source: 'gitlab' | 'github', e: PushEvent, key: string): Promise<IntakeResult> {
  const branch = ctx.config.repo.branch;
  if (e.ref !== `refs/heads/${branch}`) return { status: 200, body: { queued: [], ignored: `ref ${e.ref} is not the deployed branch ${branch}` } };
  if (isBranchDeletion(e)) return { status: 200, body: { queued: [], ignored: 'branch deletion: nothing to deploy' } };
  const seen = await rec.findDelivery(ctx.db, key);
  if (seen) return { status: 200, body: { queued: [], ignored: `duplicate delivery (deployment ${seen.deploymentId ?? 'none'})` } };
  if ((await rec.getLastSeen(ctx.db, branch)) === e.after) {
    await rec.recordDelivery(ctx.db, key, source, null, ctx.clock().toISOString());
    return { status: 200, body: { queued: [], ignored: `commit ${e.after} is already deployed` } };
  }
  const { id, coalesced } = await ctx.deployer.submit({ kind: 'push', trigger: source, actor: e.actor ?? undefined, before: e.before, after: e.after });
  await rec.recordDelivery(ctx.db, key, source, id, ctx.clock().toISOString());
  return { status: 202, body: { queued: [id], coalesced } };
}
