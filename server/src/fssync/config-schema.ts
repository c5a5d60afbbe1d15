// Config of the fssync-compatible /modify operation (`modify` section): on/off, retries on concurrent pushes, limits.
import { z } from 'zod';

export const modifyConfigSchema = z.strictObject({
  /** Accept POST /modify and POST /api/v1/units/:mod/:env/:app/modify (commits to the config repo). */
  enabled: z.boolean().default(true),
  /** Tries when the branch moved between our fetch and our push (fetch, re-apply, push again); then 409. */
  attempts: z.number().int().min(1).max(10).default(3),
  /** Seconds before the second try; doubles each time. */
  retryBackoff: z.number().min(0).max(60).default(0.5),
  /** Largest properties file that may be edited, in bytes. */
  maxFileBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024),
  /** Seconds a git fetch or push of the private working clone may take. */
  gitTimeout: z.number().int().min(1).max(3600).default(60),
  /** Committer of modify commits (the author is the one in the request). */
  committer: z.strictObject({
    name: z.string().min(1).max(100).regex(/^[^<>\n]+$/).default('gitfleet'),
    email: z.string().min(3).max(254).regex(/^[^\s<>@]+@[^\s<>@]+$/).default('gitfleet@localhost'),
  }).prefault({}),
});

export type ModifyConfig = z.infer<typeof modifyConfigSchema>;
