// Config of deployment notifications (`notifications` section): webhook targets by name, format, filter, retries.
import { z } from 'zod';

/** An HTTP header name (RFC 9110 token) and a value without line breaks. */
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, 'must be an HTTP header name');
const headerValue = z.string().max(8192).regex(/^[^\r\n\0]*$/, 'must not contain line breaks');

export const notifyTargetSchema = z.strictObject({
  /** Where to POST (a bot's webhook address may carry its token: it is never logged). Env for target "default": GITFLEET_NOTIFY_URL. */
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  /** Body shape: the full record (json) or a bot message (slack {text}, dingtalk/wecom markdown). */
  format: z.enum(['json', 'slack', 'dingtalk', 'wecom']).default('json'),
  /** Which deployment ends: failures (partial, failed, interrupted) or all. */
  on: z.enum(['failures', 'all']).default('failures'),
  /** Extra request headers, e.g. Authorization. Env for target "default": GITFLEET_NOTIFY_AUTH (Authorization). */
  headers: z.record(headerName, headerValue).default({}),
  /** DingTalk "sign" security setting: the robot's SEC... secret (adds timestamp and sign to the URL). Env: GITFLEET_NOTIFY_SECRET. */
  secret: z.string().min(1).optional(),
  /** Seconds per attempt. */
  timeout: z.number().min(0.1).max(120).default(10),
  /** Further attempts after a network error, a timeout, 429, 5xx or a bot's rate-limit answer. */
  retries: z.number().int().min(0).max(10).default(3),
  /** Seconds before the first retry; doubles each time (a 429's Retry-After wins, up to 60 s). */
  retryBackoff: z.number().min(0).max(600).default(2),
}).refine((t) => t.secret === undefined || t.format === 'dingtalk', { message: 'secret is for format dingtalk only (its signing setting)', path: ['secret'] });

const targetName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/, 'must be a short name like "ops-dingtalk"');

export const notificationsConfigSchema = z.strictObject({
  /** Targets by name; every one gets every matching deployment end. */
  targets: z.record(targetName, notifyTargetSchema).default({}),
  /** Base URL of this server as people reach it, for links in messages (e.g. https://gitfleet.example.com). */
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Deliveries waiting or in flight per target; more are dropped (logged) so a dead receiver cannot pile up work. */
  maxPending: z.number().int().min(1).max(10_000).default(100),
});

export type NotifyTarget = z.infer<typeof notifyTargetSchema>;
export type NotificationsConfig = z.infer<typeof notificationsConfigSchema>;
