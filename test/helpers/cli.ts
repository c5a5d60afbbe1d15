// The gitfleet CLI as a user runs it: a child process (from source through tsx, or the built bin), with an
// explicit environment (no token or config of whoever runs the tests leaks in), stdout and stderr apart.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI_SOURCE = resolve(ROOT, 'server/src/cli/main.ts');
export const CLI_BIN = resolve(ROOT, 'server/dist/cli/main.js');

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export interface CliOptions {
  /** Environment on top of PATH and HOME (HOME defaults to a directory without a config file: pass one). */
  env?: Record<string, string>;
  home: string;
  /** Written to stdin, then closed. */
  input?: string;
  /** Run this file directly (the built bin) instead of the source through tsx. */
  bin?: string;
}

/** Start the CLI; the caller may signal it and await `done`. */
export function startCli(args: string[], o: CliOptions): { child: ChildProcess; done: Promise<CliResult>; stdout(): string } {
  const [file, argv] = o.bin ? [o.bin, args] : [process.execPath, ['--import', 'tsx', CLI_SOURCE, ...args]];
  const child = spawn(file, argv, { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: o.home, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  child.stdin!.end(o.input ?? '');
  const done = new Promise<CliResult>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr }));
  });
  return { child, done, stdout: () => stdout };
}

export const runCli = (args: string[], o: CliOptions): Promise<CliResult> => startCli(args, o).done;

const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The CLI on a terminal: run under util-linux `script`, which gives it a pseudo-terminal (stdin, stdout and stderr
 * all on it; the output comes back merged, with what was typed echoed). Write to `child.stdin` to type; stdin stays
 * open until the CLI ends (an end of input would reach it as Ctrl-D).
 */
export function startCliOnTty(args: string[], o: CliOptions): { child: ChildProcess; done: Promise<CliResult>; output(): string } {
  const cmd = [process.execPath, '--import', 'tsx', CLI_SOURCE, ...args].map(shq).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: o.home, TERM: 'dumb', ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const done = new Promise<CliResult>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stdout: out, stderr: err }));
  });
  void done.then(() => child.stdin!.end());
  return { child, done, output: () => out };
}
