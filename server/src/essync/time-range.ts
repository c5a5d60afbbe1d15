// Time ranges of a task ("30d", "24h", "90m", "2w"): validation and the Elasticsearch date-math lower bound. PURE.

export const TIME_RANGE_RE = /^([1-9][0-9]{0,5})([mhdw])$/;

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
/** Longer windows make every run scan more than a year of metrics: refuse them. */
export const MAX_TIME_RANGE_MS = 366 * UNIT_MS.d;

/** Milliseconds covered by a range, or null when it is not a valid range. */
export function timeRangeMs(range: string): number | null {
  const m = TIME_RANGE_RE.exec(range);
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return ms <= MAX_TIME_RANGE_MS ? ms : null;
}

/** The `gte` of the @timestamp range filter: "now-30d". */
export function esLowerBound(range: string): string {
  return `now-${range}`;
}
