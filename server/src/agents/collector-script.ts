// The collector as one self-contained sh script (lib.sh, plugins/*.sh, main.sh), what `sh -s` runs over SSH.
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** agents/ at the project root: the collector, install.sh and report.sh. */
export const AGENTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'agents');

/** Second line of the bundle; install.sh writes the same one. */
export const COLLECTOR_HEADER = '# gitfleet collector: lib.sh, plugins/*.sh and main.sh in one file.\n';

/** Plugin names on disk, sorted as the shell sorts plugins/*.sh under LC_ALL=C. */
export async function pluginNames(dir = join(AGENTS_DIR, 'collector')): Promise<string[]> {
  return (await readdir(join(dir, 'plugins'))).filter((f) => f.endsWith('.sh')).map((f) => f.slice(0, -3)).sort();
}

/** Concatenate the collector in the order install.sh uses, so both produce the same program. */
export async function buildCollectorScript(dir = join(AGENTS_DIR, 'collector')): Promise<string> {
  const parts = [
    await readFile(join(dir, 'lib.sh'), 'utf8'),
    ...(await Promise.all((await pluginNames(dir)).map((p) => readFile(join(dir, 'plugins', `${p}.sh`), 'utf8')))),
    await readFile(join(dir, 'main.sh'), 'utf8'),
  ];
  return ['#!/bin/sh\n', COLLECTOR_HEADER, ...parts].join('');
}
