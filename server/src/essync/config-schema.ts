// Config of the Elasticsearch metrics sync (`esSync` section).
import { z } from 'zod';

export const esSyncConfigSchema = z.strictObject({});
