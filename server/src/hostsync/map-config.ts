// A host-sync source's `map` section as written in config: which record fields give env, apps and labels.
import { z } from 'zod';
import { SEGMENT_RE } from '../util/validate.js';

const valueMap = z.record(z.string(), z.string());
const fieldList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** A source's `map` section as written in config (every key optional: the source type supplies defaults). */
export const mapConfigSchema = z.strictObject({
  env: z.strictObject({
    /** Record field(s) holding the env; the first non-empty one wins. */
    field: fieldList.optional(),
    /** Translate raw values, e.g. {"prod-set": "prod"}. */
    values: valueMap.optional(),
    /** Env when the field is empty. */
    default: z.string().regex(SEGMENT_RE).optional(),
    /** Only values listed in `values` count; any other value is treated as empty. */
    onlyMapped: z.boolean().optional(),
  }).optional(),
  apps: z.strictObject({
    field: fieldList.optional(),
    /** Separator inside one field value (default ","). */
    split: z.string().min(1).optional(),
    /** Translate raw values; mapping to "" drops the app. */
    values: valueMap.optional(),
    default: z.array(z.string().regex(SEGMENT_RE)).optional(),
    onlyMapped: z.boolean().optional(),
  }).optional(),
  /** Fields copied into labels: "field", "prefix.*" (key = the rest), "key=field". */
  labels: z.array(z.string().min(1)).optional(),
  /** Records without an env are left out of the listing (so a local host for them is deleted) instead of being per-record errors. */
  skipWithoutEnv: z.boolean().optional(),
  /** Only records whose field has one of these values, e.g. {status: [Running]}. */
  include: z.record(z.string(), z.array(z.string())).optional(),
  /** Leave out records whose field has one of these values, e.g. {set: ["空闲机池"]}. */
  exclude: z.record(z.string(), z.array(z.string())).optional(),
});
export type MapConfig = z.infer<typeof mapConfigSchema>;
