// Config of the per-host content diff of dry runs (deploy/host-diff.ts): `dryRunDiff` in the config file.
import { z } from 'zod';

export const dryRunDiffConfigSchema = z.strictObject({
  /** Dry runs read the changed files on each host and store a unified diff with the host's record. */
  enabled: z.boolean().default(true),
  /** Files diffed per host (the rest are counted). */
  maxFiles: z.number().int().min(1).max(1000).default(20),
  /** A file bigger than this (on the host or in git) is reported by size only. */
  maxFileBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
  /** Diff text stored per host (the deployment's API answer holds every host's): later files keep their entry without the text. */
  maxStoredBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(64 * 1024),
});
