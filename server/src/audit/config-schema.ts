// The audit section of the config.
import { z } from 'zod';

export const auditConfigSchema = z.strictObject({
  /** Audit rows older than this many days are pruned (separate from retention.*); 0 = keep forever. */
  retentionDays: z.number().int().min(0).max(36_500).default(365),
});
export type AuditConfig = z.infer<typeof auditConfigSchema>;
