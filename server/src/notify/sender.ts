// One webhook delivery: POST JSON with a per-attempt timeout, retries with backoff on transient failures, never throws.
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { NotifyTarget } from './config-schema.js';

export type DeliveryResult = { ok: true; attempts: number; status: number } | { ok: false; attempts: number; status: number | null; error: string };

type Attempt = { ok: true; status: number } | { ok: false; status: number | null; error: string; retry: boolean; retryAfterMs?: number };

/** Bot answers meaning "too many messages, try later" (DingTalk 130101 "send too fast", WeCom 45009 "api freq out of limit"). */
const RATE_LIMIT_CODES = new Set([130101, 45009]);

/** DingTalk's signing: timestamp and base64 HMAC-SHA256 of "timestamp\nsecret" added to the URL. */
export function dingtalkSignedUrl(url: string, secret: string, now = Date.now()): string {
  const sign = createHmac('sha256', secret).update(`${now}\n${secret}`).digest('base64');
  const u = new URL(url);
  u.searchParams.set('timestamp', String(now));
  u.searchParams.set('sign', sign);
  return u.toString();
}

/** PURE: judge an HTTP answer. DingTalk and WeCom answer 200 with {errcode, errmsg}; errcode 0 is success. */
export function judge(format: NotifyTarget['format'], status: number, body: string, retryAfter: string | null): Attempt {
  if (status === 429 || status >= 500) {
    const secs = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : null;
    return { ok: false, status, error: `HTTP ${status}`, retry: true, ...(secs !== null ? { retryAfterMs: Math.min(secs, 60) * 1000 } : {}) };
  }
  if (status < 200 || status >= 300) return { ok: false, status, error: `HTTP ${status}: ${body.slice(0, 200)}`, retry: false };
  if (format === 'dingtalk' || format === 'wecom') {
    const parsed = parseJson(body) as { errcode?: unknown; errmsg?: unknown } | null;
    if (!parsed || typeof parsed.errcode !== 'number') return { ok: false, status, error: 'bot answer without errcode', retry: false };
    if (parsed.errcode !== 0) return { ok: false, status, error: `errcode ${parsed.errcode}: ${String(parsed.errmsg ?? '').slice(0, 200)}`, retry: RATE_LIMIT_CODES.has(parsed.errcode) };
  }
  return { ok: true, status };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function attempt(target: NotifyTarget, body: string, signal: AbortSignal): Promise<Attempt> {
  const url = target.format === 'dingtalk' && target.secret ? dingtalkSignedUrl(target.url, target.secret) : target.url;
  try {
    const res = await fetch(url, {
      method: 'POST', body, redirect: 'manual',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'gitfleet-notify', ...target.headers },
      signal: AbortSignal.any([signal, AbortSignal.timeout(target.timeout * 1000)]),
    });
    const text = (await res.text()).slice(0, 4096);
    return judge(target.format, res.status, text, res.headers.get('retry-after'));
  } catch (err) {
    if (signal.aborted) return { ok: false, status: null, error: 'stopped', retry: false };
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `timed out after ${target.timeout}s` : e.cause?.code ?? e.message;
    return { ok: false, status: null, error: why, retry: true };
  }
}

/** Deliver one message with retries; logs each failed attempt (target name only: URLs may carry tokens). */
export async function deliver(name: string, target: NotifyTarget, payload: unknown, opts: { signal: AbortSignal; log: Logger }): Promise<DeliveryResult> {
  const body = JSON.stringify(payload);
  const tries = target.retries + 1;
  for (let n = 1; ; n++) {
    const a = await attempt(target, body, opts.signal);
    if (a.ok) return { ok: true, attempts: n, status: a.status };
    const last = !a.retry || n >= tries || opts.signal.aborted;
    opts.log.warn({ target: name, attempt: n, status: a.status, error: a.error, willRetry: !last }, 'notification attempt failed');
    if (last) return { ok: false, attempts: n, status: a.status, error: a.error };
    const delay = a.retryAfterMs ?? target.retryBackoff * 1000 * 2 ** (n - 1);
    try {
      await sleep(delay, undefined, { signal: opts.signal });
    } catch {
      return { ok: false, attempts: n, status: a.status, error: 'stopped' };
    }
  }
}
