// The CLI's terminal: results on stdout, messages on stderr, a progress line and questions only on a TTY.
import { createInterface } from 'node:readline/promises';

export interface Io {
  /** Results (the table, or the one JSON document). */
  out(text: string): void;
  /** Messages, warnings, previews. */
  err(text: string): void;
  /** Overwrite the progress line (stderr, only when it is a terminal; nothing otherwise). */
  progress(line: string): void;
  /** Clear the progress line before other output. */
  endProgress(): void;
  /** stdin and stderr are terminals: someone can be asked. */
  readonly interactive: boolean;
  /** stdout is a terminal (watch redraws the screen). */
  readonly stdoutTTY: boolean;
  ask(question: string): Promise<string>;
  now(): number;
}

export function processIo(): Io {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    out: (t) => { process.stdout.write(t); },
    err: (t) => {
      if (shown) { process.stderr.write('\r\x1b[K'); shown = false; }
      process.stderr.write(t);
    },
    progress: (line) => {
      if (!tty) return;
      const width = process.stderr.columns || 100;
      process.stderr.write(`\r\x1b[K${line.length >= width ? line.slice(0, width - 2) + '…' : line}`);
      shown = true;
    },
    endProgress: () => {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
    interactive: process.stdin.isTTY === true && tty,
    stdoutTTY: process.stdout.isTTY === true,
    async ask(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const ac = new AbortController();
      rl.on('SIGINT', () => ac.abort()); // Ctrl-C at the prompt is a "no"
      try {
        return await rl.question(question, { signal: ac.signal });
      } catch {
        process.stderr.write('\n');
        return '';
      } finally {
        rl.close();
      }
    },
    now: () => Date.now(),
  };
}
