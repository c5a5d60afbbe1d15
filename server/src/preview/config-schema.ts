// Config of merge-request / pull-request previews (`previews` in the config file; README "Merge-request previews").
import { z } from 'zod';

const api = (defaultUrl: string) => z.strictObject({
  /** API base URL (self-hosted: https://gitlab.example.com/api/v4, https://ghe.example.com/api/v3). */
  url: z.url({ protocol: /^https?$/ }).default(defaultUrl),
  /** GitLab: a token with the `api` scope (PRIVATE-TOKEN); GitHub: a token that may write issue comments. */
  token: z.string().min(1).optional(),
}).prefault({});

export const previewsConfigSchema = z.strictObject({
  /** Merge-request events are taken (they are answered "ignored" otherwise). */
  enabled: z.boolean().default(false),
  /** Hosts dry-run per unit: a sample of this many (the count of all is shown). */
  maxHostsPerUnit: z.number().int().min(1).max(1000).default(5),
  /** At most one preview per merge request in this many seconds; a newer commit replaces a waiting one. */
  minIntervalSeconds: z.number().int().min(0).max(86_400).default(60),
  /** The comment's size cap in bytes (GitLab notes and GitHub comments take up to about 1 MB / 65536 characters). */
  maxCommentBytes: z.number().int().min(2000).max(1_000_000).default(60_000),
  /** Link to the dashboard in the comment (optional), e.g. https://gitfleet.example.com/. */
  dashboardUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Timeout in seconds of each API request (retried on 5xx and network errors, up to 3 tries). */
  apiTimeout: z.number().int().min(1).max(300).default(15),
  gitlab: api('https://gitlab.com/api/v4'),
  github: api('https://api.github.com'),
});

export type PreviewsConfig = z.infer<typeof previewsConfigSchema>;
