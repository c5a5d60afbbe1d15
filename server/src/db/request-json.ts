// SQL conditions on a deployment's request (deployments.request, JSON text), one form per dialect: SQLite reads it
// with json_extract, PostgreSQL with ->> on a ::json cast. `d` is the deployments table's alias in the query.
import type { Dialect } from './connection.js';

const FORMS = {
  /** A real deployment: not a dry run (dryRun false or absent). */
  real: {
    sqlite: (d: string) => `COALESCE(json_extract(${d}.request, '$.dryRun'), 0) = 0`,
    postgres: (d: string) => `COALESCE((${d}.request::json->>'dryRun')::boolean, false) = false`,
  },
  /** A whole-unit deployment: no host subset (hosts absent or null). */
  wholeUnit: {
    sqlite: (d: string) => `json_extract(${d}.request, '$.hosts') IS NULL`,
    postgres: (d: string) => `(${d}.request::json->>'hosts') IS NULL`,
  },
  /** 1 for a dry run, else 0 or NULL (a value to select). */
  dryFlag: {
    sqlite: (d: string) => `json_extract(${d}.request, '$.dryRun')`,
    postgres: (d: string) => `CASE WHEN (${d}.request::json->>'dryRun')::boolean THEN 1 ELSE 0 END`,
  },
};

export const realRun = (dialect: Dialect, d: string): string => FORMS.real[dialect](d);
export const wholeUnit = (dialect: Dialect, d: string): string => FORMS.wholeUnit[dialect](d);
export const dryFlag = (dialect: Dialect, d: string): string => FORMS.dryFlag[dialect](d);
