// Config of the CMDB providers (the `inventory` section); provider-specific sections are added here.
import { z } from 'zod';

export const cmdbConfigSchema = z.strictObject({
  provider: z.string().min(1).default('builtin'),
  /** Seconds a provider's answer may be reused; 0 = ask every time. */
  cacheTtl: z.number().int().min(0).max(3600).default(0),
});
