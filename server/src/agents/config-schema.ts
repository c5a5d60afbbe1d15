// Config of host agents (`agents` section).
import { z } from 'zod';

export const agentsConfigSchema = z.strictObject({
  token: z.string().min(16, 'the agent token must be at least 16 characters').optional(),
});
