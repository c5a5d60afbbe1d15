// Config of the incremental host sync (`hostSync` section).
import { z } from 'zod';

export const hostSyncConfigSchema = z.strictObject({});
