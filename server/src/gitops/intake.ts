// What a verified push event turns into: nothing (other branch, deletion, duplicate, already deployed) or a queued deployment.
import type { AppContext } from '../context.js';
import * as rec from '../db/deployments.js';
import { type PushEvent, isBranchDeletion } from './push-event.js';

export interface IntakeResult { status: 200 | 202; body: { queued: number[]; coalesced?: boolean; ignored?: string } }

/**
 * The delivery key is claimed, the deployment recorded (or joined) and the two linked in one transaction: of
 * simultaneous copies of a delivery exactly one deploys; a refused submit (queue full) leaves no claim behind, so
 * the sender's redelivery is taken.
 */
export async function acceptPush(ctx: AppContext, source: 'gitlab' | 'github', e: PushEvent, key: string): Promise<IntakeResult> {
  const branch = ctx.config.repo.branch;
  if (e.ref !== `refs/heads/${branch}`) return { status: 200, body: { queued: [], ignored: `ref ${e.ref} is not the deployed branch ${branch}` } };
  if (isBranchDeletion(e)) return { status: 200, body: { queued: [], ignored: 'branch deletion: nothing to deploy' } };
  // Most redeliveries come later: one read answers them without a transaction (the claim below still decides).
  const seen = await rec.findDelivery(ctx.db, key);
  if (seen) return { status: 200, body: { queued: [], ignored: duplicate(seen.deploymentId) } };
  const out = await ctx.deployer.submitIf({ kind: 'push', trigger: source, actor: e.actor ?? undefined, before: e.before, after: e.after }, {
    admit: async (q) => {
      const prior = await rec.claimDelivery(q, key, source, ctx.clock().toISOString());
      if (prior) return duplicate(prior.deploymentId);
      // The claim stays (no deployment): a redelivery of this key is a duplicate too.
      if ((await rec.getLastSeen(q, branch)) === e.after) return `commit ${e.after} is already deployed`;
      return null;
    },
    link: (q, s) => rec.linkDelivery(q, key, s.id),
  });
  if ('refused' in out) return { status: 200, body: { queued: [], ignored: out.refused } };
  return { status: 202, body: { queued: [out.id], coalesced: out.coalesced } };
}

const duplicate = (deploymentId: number | null) => `duplicate delivery (deployment ${deploymentId ?? 'none'})`;
