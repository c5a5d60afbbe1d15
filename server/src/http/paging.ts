// limit/offset query parameters, validated.
import { ValidationError } from '../errors.js';

export function paging(q: Record<string, unknown>, maxLimit = 500, defLimit = 50): { limit: number; offset: number } {
  const num = (v: unknown, name: string, def: number, max: number) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (typeof v !== 'string' || !/^\d+$/.test(v) || n > max) throw new ValidationError(`${name} must be an integer 0-${max}; got ${JSON.stringify(v)}`, name);
    return n;
  };
  return { limit: Math.max(1, num(q.limit, 'limit', defLimit, maxLimit)), offset: num(q.offset, 'offset', 0, Number.MAX_SAFE_INTEGER) };
}
