// PURE: validation of a /modify request body into a ModifyRequest (every field checked, the first problem reported).
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { isSafeRelativePath, isSegment, SEGMENT_RE } from '../util/validate.js';
import { keyProblem, valueProblem } from './properties.js';
import { METADATA_DIR, METADATA_FILE, isMetadataPath } from '../deploy/metadata.js';

export interface ModifyAuthor { name: string; email: string }

export interface ModifyRequest {
  env: string; app: string;
  /** Absent on the fssync form: resolved to the one unit of env/app that has the file. */
  mod?: string;
  /** Path of the file on the host, relative ("opt/app/conf/app.properties"). */
  path: string;
  set: Record<string, string>;
  delete: string[];
  author: ModifyAuthor;
  message?: string;
  /** Wait for the deployment to finish before answering. */
  wait: boolean;
}

export const MAX_KEYS = 500;

const segment = z.string().refine(isSegment, `must match ${SEGMENT_RE.source} (no slashes, no "..", no leading "-")`);
/** Git refuses or rewrites names with angle brackets or newlines; keep the identity plain. */
const identName = z.string().trim().min(1).max(100).regex(/^[^<>\u0000-\u001f\u007f]+$/, 'must not contain "<", ">" or control characters');
const email = z.string().trim().min(3).max(254).regex(/^[^\s<>@]+@[^\s<>@]+$/, 'must be an email address like ops@example.com');

const bodySchema = z.strictObject({
  env: segment,
  app: segment,
  mod: segment.optional(),
  path: z.string().superRefine((p, ctx) => {
    const problem = relativePathProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  set: z.record(z.string(), z.string()).default({}),
  delete: z.array(z.string()).max(MAX_KEYS).default([]),
  author: z.strictObject({ name: identName, email }),
  message: z.string().max(2000).regex(/^[^\u0000]*$/, 'must not contain NUL').optional(),
  wait: z.boolean().default(false),
});

/** Why a file path of a unit is refused, or null. */
export function relativePathProblem(p: unknown): string | null {
  if (typeof p !== 'string' || p === '') return 'must be a non-empty path';
  if (p.startsWith('/')) return 'must be relative to the unit (the path on the host without the leading "/")';
  if (/[\u0000-\u001f\u007f]/.test(p)) return 'must not contain control characters';
  if (!isSafeRelativePath(p)) return 'must not contain "..", "." or empty segments, or segments starting with "-"';
  if (isMetadataPath(p)) return `is the unit's gitfleet metadata (${METADATA_FILE} or ${METADATA_DIR}/), not a path on the host`;
  return null;
}

/** A validated path of a unit's file, or a 400. */
export function requireUnitPath(value: unknown, field = 'path'): string {
  const problem = relativePathProblem(value);
  if (problem) throw new ValidationError(`${field} ${problem}; got ${JSON.stringify(value)}`, field);
  return value as string;
}

/** Parse a request body (the unit may come from the URL instead: `fixed`). */
export function parseModifyRequest(body: unknown, fixed: Partial<Pick<ModifyRequest, 'env' | 'app' | 'mod'>> = {}): ModifyRequest {
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  for (const [k, v] of Object.entries(fixed)) {
    const given = isObject ? (body as Record<string, unknown>)[k] : undefined;
    if (given !== undefined && given !== v) throw new ValidationError(`${k}: the body says ${JSON.stringify(given)} but the URL says ${JSON.stringify(v)}`, k);
  }
  const input = isObject ? { ...body, ...fixed } : body;
  const r = bodySchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || 'body';
    const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
    throw new ValidationError(`${field}: ${message}`, field);
  }
  const req = r.data;
  const setKeys = Object.keys(req.set);
  if (setKeys.length + req.delete.length === 0) throw new ValidationError('nothing to do: give keys in "set" and/or "delete"', 'set');
  if (setKeys.length > MAX_KEYS) throw new ValidationError(`set: at most ${MAX_KEYS} keys`, 'set');
  for (const [k, v] of Object.entries(req.set)) {
    const kp = keyProblem(k);
    if (kp) throw new ValidationError(`set: key ${JSON.stringify(k)} ${kp}`, 'set');
    const vp = valueProblem(v);
    if (vp) throw new ValidationError(`set.${k}: value ${vp}`, 'set');
  }
  for (const k of req.delete) {
    const kp = keyProblem(k);
    if (kp) throw new ValidationError(`delete: key ${JSON.stringify(k)} ${kp}`, 'delete');
    if (Object.hasOwn(req.set, k)) throw new ValidationError(`key ${JSON.stringify(k)} is both in "set" and in "delete"`, 'delete');
  }
  return { ...req, set: { ...req.set }, delete: [...new Set(req.delete)] };
}

/** The commit message: the author's, or one that lists what changed. */
export function commitMessage(req: ModifyRequest, unitKey: string): string {
  const what = [
    ...Object.keys(req.set).map((k) => `set ${k}`),
    ...req.delete.map((k) => `delete ${k}`),
  ];
  const subject = `modify ${unitKey}/${req.path}`;
  const body = what.length <= 20 ? what.join('\n') : `${what.slice(0, 20).join('\n')}\n... and ${what.length - 20} more`;
  const text = req.message?.trim() ? `${req.message.trim()}\n\n${subject}\n${body}` : `${subject}\n\n${body}`;
  return `${text}\n\nVia: gitfleet /modify\n`;
}
