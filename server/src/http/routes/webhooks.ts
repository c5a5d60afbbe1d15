// POST /webhooks/gitlab and /webhooks/github: cheapest checks first, raw-body authentication, then a queued deployment (202).
import express, { Router, type Request, type Response } from 'express';
import type { AppContext } from '../../context.js';
import { UnauthorizedError, ValidationError } from '../../errors.js';
import { acceptPush, type IntakeResult } from '../../gitops/intake.js';
import { deliveryKey, parsePushPayload, type PushEvent } from '../../gitops/push-event.js';
import { parseGithubPullRequest, parseGitlabMergeRequest, type PreviewParse } from '../../preview/events.js';
import { verifyGithubSignature, verifyGitlabToken, verifyStandardWebhook } from '../../gitops/webhook-auth.js';
import type { Actor } from '../../auth/scopes.js';
import { publicRoute } from '../middleware/auth.js';
import { audited } from '../middleware/audited.js';

const header = (req: Request, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ValidationError('payload is not valid JSON');
  }
}

/** A merge request / pull request event (already authenticated): validated, then a queued preview (202) or ignored (200). */
async function acceptPreview(ctx: AppContext, parse: (b: unknown) => PreviewParse, body: Buffer): Promise<{ status: number; body: Record<string, unknown> }> {
  if (!ctx.previews) return { status: 200, body: { queued: [], ignored: 'merge-request previews are not enabled (previews.enabled)' } };
  const p = parse(parseJson(body));
  if (!p.ok && p.status === 400) throw new ValidationError(p.reason);
  if (!p.ok) return { status: 200, body: { queued: [], ignored: p.ignored } };
  const out = await ctx.previews.accept(p.event);
  return { status: out.status, body: { queued: [], ...out.body } };
}

export function createWebhookRoutes(ctx: AppContext): Router {
  const r = Router();
  const cfg = ctx.config.webhook;
  const raw = express.raw({ type: () => true, limit: cfg.maxBodyBytes });

  // Audited as the pusher ("gitlab:alice"); a delivery refused by the secret check is a "denied" row of "gitlab:?".
  const pusher = (source: string, name: string | null): Actor => ({ kind: 'webhook', name: `${source}:${name ?? '?'}` });
  const why = 'webhook: authenticated by its secret or signature (webhook.*)';
  const noted = (res: Response, source: string, e: PushEvent, key: string, out: IntakeResult) => {
    res.locals.auditActor = pusher(source, e.actor);
    res.locals.auditTarget = `${e.ref} ${e.before.slice(0, 12)}..${e.after.slice(0, 12)}`;
    res.locals.auditParams = { ref: e.ref, before: e.before, after: e.after, delivery: key };
    res.locals.auditDetail = out.body.queued.length ? `deployment ${out.body.queued.join(', ')}` : out.body.ignored ?? null;
  };
  r.post('/webhooks/gitlab', audited(ctx.audit, 'webhook.push'), publicRoute(why), raw, async (req, res) => {
    res.locals.auditActor = pusher('gitlab', null);
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const event = header(req, 'x-gitlab-event');
    if (cfg.gitlab.token && !verifyGitlabToken(header(req, 'x-gitlab-token'), cfg.gitlab.token)) throw new UnauthorizedError('X-Gitlab-Token is missing or wrong');
    if (cfg.gitlab.signingSecret) {
      const check = verifyStandardWebhook(
        { id: header(req, 'webhook-id'), timestamp: header(req, 'webhook-timestamp'), signature: header(req, 'webhook-signature') },
        body, cfg.gitlab.signingSecret, Math.floor(ctx.clock().getTime() / 1000), cfg.gitlab.toleranceSeconds,
      );
      if (!check.ok) throw new UnauthorizedError(check.reason);
    }
    if (event === 'Merge Request Hook') {
      res.locals.auditSkip = true; // a preview changes nothing here (it comments on the merge request)
      const out = await acceptPreview(ctx, parseGitlabMergeRequest, body);
      req.log.info({ ...out.body }, 'gitlab merge request event received');
      res.status(out.status).json(out.body);
      return;
    }
    if (event !== 'Push Hook') {
      res.locals.auditSkip = true; // not a push: nothing changes
      res.status(200).json({ queued: [], ignored: `event ${JSON.stringify(event ?? null)} is not handled` });
      return;
    }
    const parsed = parsePushPayload(parseJson(body), 'gitlab');
    if (!parsed.ok) throw new ValidationError(parsed.reason);
    const key = deliveryKey('gitlab', header(req, 'idempotency-key') ?? header(req, 'webhook-id') ?? header(req, 'x-gitlab-event-uuid'), parsed.event);
    const out = await acceptPush(ctx, 'gitlab', parsed.event, key);
    noted(res, 'gitlab', parsed.event, key, out);
    req.log.info({ key, ...out.body }, 'gitlab push received');
    res.status(out.status).json(out.body);
  });

  r.post('/webhooks/github', audited(ctx.audit, 'webhook.push'), publicRoute(why), raw, async (req, res) => {
    res.locals.auditActor = pusher('github', null);
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (cfg.github.secret && !verifyGithubSignature(header(req, 'x-hub-signature-256'), body, cfg.github.secret)) {
      throw new UnauthorizedError('X-Hub-Signature-256 is missing or does not match');
    }
    const event = header(req, 'x-github-event');
    if (event !== 'push') res.locals.auditSkip = true; // not a push: nothing changes
    if (event === 'ping') {
      res.status(200).json({ pong: true });
      return;
    }
    if (event !== 'push' && event !== 'pull_request') {
      res.status(200).json({ queued: [], ignored: `event ${JSON.stringify(event ?? null)} is not handled` });
      return;
    }
    // Form-encoded hooks send payload=<url-encoded JSON>; the signature above covered the form body as sent.
    const text = /application\/x-www-form-urlencoded/.test(header(req, 'content-type') ?? '')
      ? new URLSearchParams(body.toString('utf8')).get('payload') ?? ''
      : body.toString('utf8');
    if (event === 'pull_request') {
      const out = await acceptPreview(ctx, parseGithubPullRequest, Buffer.from(text));
      req.log.info({ ...out.body }, 'github pull request event received');
      res.status(out.status).json(out.body);
      return;
    }
    const parsed = parsePushPayload(parseJson(Buffer.from(text)), 'github');
    if (!parsed.ok) throw new ValidationError(parsed.reason);
    const key = deliveryKey('github', header(req, 'x-github-delivery'), parsed.event);
    const out = await acceptPush(ctx, 'github', parsed.event, key);
    noted(res, 'github', parsed.event, key, out);
    req.log.info({ key, ...out.body }, 'github push received');
    res.status(out.status).json(out.body);
  });
  return r;
}
