// Source "file": a YAML, JSON or CSV inventory file on the server (re-read on every run).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UpstreamDataError, UpstreamUnavailableError } from '../../../errors.js';
import { itemsOf, objectFieldOptions, recordFromObject } from '../../flatten.js';
import type { SourceType } from '../../source.js';

export const id = 'file';

const options = {
  path: z.string().min(1),
  /** auto = by extension (.yaml/.yml, .json, .csv). */
  format: z.enum(['auto', 'yaml', 'json', 'csv']).default('auto'),
  /** Dotted path to the list inside a YAML/JSON document (default: the document, or its `hosts`). */
  itemsPath: z.string().min(1).optional(),
  /** CSV column separator. */
  delimiter: z.string().length(1).default(','),
  ...objectFieldOptions,
};

function formatOf(path: string, format: string): 'yaml' | 'json' | 'csv' {
  if (format !== 'auto') return format as 'yaml' | 'json' | 'csv';
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.csv') return 'csv';
  return 'yaml';
}

export const source: SourceType<typeof options> = {
  id,
  options,
  defaultMap: { env: { field: 'env' }, apps: { field: 'apps' }, labels: ['labels.*'] },
  create(o) {
    const what = `file ${o.path}`;
    return {
      type: id,
      async list() {
        let text: string;
        try {
          text = await readFile(o.path, 'utf8');
        } catch (err) {
          throw new UpstreamUnavailableError(`${what}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
        }
        const format = formatOf(o.path, o.format);
        let items: unknown[];
        try {
          if (format === 'csv') items = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, delimiter: o.delimiter, bom: true }) as unknown[];
          else items = itemsOf(format === 'json' ? JSON.parse(text) : parseYaml(text), o.itemsPath, what);
        } catch (err) {
          if (err instanceof UpstreamDataError) throw err;
          throw new UpstreamDataError(`${what}: not valid ${format.toUpperCase()}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
        }
        return items.map((item, i) => recordFromObject(item, i, o, what));
      },
    };
  },
};
