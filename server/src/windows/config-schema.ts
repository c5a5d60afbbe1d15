// Schema of a sync window (config `syncWindows` and the windows API share it): checked with the model's own parsers,
// so a bad cron, zone or duration fails at start (or with 400) naming the window and the problem.
import { z } from 'zod';
import { compileSchedule, parseDuration } from './model.js';

export const WINDOW_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const glob = z.string().regex(/^[A-Za-z0-9._*?-]{1,128}$/, 'must be a name or a glob of letters, digits, . _ - * ?');

const fields = {
  kind: z.enum(['deny', 'allow']),
  schedule: z.string().trim().min(1).max(200),
  timeZone: z.string().min(1).max(64).default('UTC'),
  duration: z.string().min(1).max(32),
  envs: z.array(glob).max(100).default([]),
  apps: z.array(glob).max(100).default([]),
  mods: z.array(glob).max(100).default([]),
  manualSync: z.boolean().default(false),
};

function check(w: { schedule: string; timeZone: string; duration: string }, ctx: z.RefinementCtx): void {
  try {
    parseDuration(w.duration);
  } catch (err) {
    ctx.addIssue({ code: 'custom', path: ['duration'], message: (err as Error).message });
  }
  try {
    compileSchedule(w.schedule, w.timeZone);
  } catch (err) {
    const msg = (err as Error).message;
    ctx.addIssue({ code: 'custom', path: [msg.startsWith('timeZone') ? 'timeZone' : 'schedule'], message: msg });
  }
}

/** A window without its name (the API takes the name from the path). */
export const windowBodySchema = z.strictObject(fields).superRefine(check);

export const windowSchema = z.strictObject({
  name: z.string().regex(WINDOW_NAME_RE, 'must be 1-64 letters, digits, . _ - (starting with a letter or digit)'),
  ...fields,
}).superRefine(check);

/** Config `syncWindows`: a list with unique names (API-managed windows may not reuse them). */
export const syncWindowsConfigSchema = z.array(windowSchema).max(500).default([]).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((w, i) => {
    if (seen.has(w.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `window name ${JSON.stringify(w.name)} is used twice` });
    seen.add(w.name);
  });
});
