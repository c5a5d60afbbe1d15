// PURE: the template engine. liquidjs, because it interprets its own small language (no JavaScript from the
// repo is ever compiled or run), and it can be made strict: an undefined variable or filter is an error, only
// own properties are read (no `constructor`, no `__proto__`), includes come from an in-memory map only (the
// unit's `.gitfleet/partials/`), and parse/render/memory limits stop a runaway template.
import { Liquid, LiquidError, filters, type Template } from 'liquidjs';

/** A template that failed to parse or render: `message` names the file, the line and the variable, never a value. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export interface Compiled { path: string; tpl: Template[] }

export interface Renderer {
  /** Parse once per stage; throws TemplateError (syntax errors, unknown filters). */
  compile(path: string, text: string): Compiled;
  /** Render for one host's variables; throws TemplateError. Same input, same bytes. */
  render(c: Compiled, vars: Record<string, unknown>): Promise<string>;
}

const LIMITS = { parseLimit: 4_000_000, renderLimit: 5_000, memoryLimit: 64_000_000 };

// liquidjs puts "line:N, col:M" and sometimes "file:..." into the message: keep the cause, say the place our way.
const causeOf = (msg: string): string => msg.replace(/,?\s*file:[^,]*/g, '').replace(/,?\s*line:\d+, col:\d+/g, '').trim();

/** Turn a liquidjs error into our message: `<path> line N: <cause>` (undefined variables named in quotes). */
export function describeError(path: string, err: unknown): TemplateError {
  if (err instanceof TemplateError) return err;
  const e = (err as { errors?: unknown[] }).errors?.[0] ?? err; // LiquidErrors: several; the first is enough
  if (e instanceof LiquidError) {
    const [line] = e.token?.getPosition?.() ?? [];
    const orig = e.originalError as { variableName?: string; message?: string } | undefined;
    const cause = orig?.variableName ? undefinedVariable(orig.variableName) : causeOf(orig?.message ?? e.message);
    return new TemplateError(`template ${path}${line ? ` line ${line}` : ''}: ${cause}`);
  }
  return new TemplateError(`template ${path}: ${causeOf((err as Error)?.message ?? String(err))}`);
}

// liquidjs names `m[k]` with k null or empty as "m.": say what happened.
const undefinedVariable = (name: string): string =>
  /\.$|\.\./.test(name) ? `undefined variable "${name.replace(/\.+$/, '')}[…]" (looked up with an empty or null key)` : `undefined variable "${name}"`;

// `date` with "now"/"today" would make two renders of the same commit differ (and every host look changed).
const date = function (this: unknown, v: unknown, ...args: unknown[]) {
  if (typeof v === 'string' && /^(now|today)$/i.test(v.trim())) throw new Error('date: "now" is not allowed (renders must be repeatable)');
  return (filters.date as (...a: unknown[]) => unknown).call(this, v, ...args);
};

/** A renderer for one unit; `partials` maps include names (relative to `.gitfleet/partials/`) to their text. */
export function createRenderer(partials: Record<string, string> = {}): Renderer {
  const engine = new Liquid({
    strictVariables: true, strictFilters: true, ownPropertyOnly: true,
    // Includes and layouts resolve in this map only: no file system, no path outside the unit.
    templates: { ...partials }, dynamicPartials: true, relativeReference: false,
    cache: false, ...LIMITS,
  });
  engine.registerFilter('date', date);
  return {
    compile(path, text) {
      try {
        return { path, tpl: engine.parse(text, path) };
      } catch (err) {
        throw describeError(path, err);
      }
    },
    async render(c, vars) {
      try {
        return await engine.render(c.tpl, vars);
      } catch (err) {
        throw describeError(c.path, err);
      }
    },
  };
}
