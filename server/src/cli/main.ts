#!/usr/bin/env node
// gitfleet CLI entry (package.json "bin"): parse, run one command, exit with its code (README "CLI" lists them).
import { userInfo, homedir } from 'node:os';
import { CommanderError, type Command } from 'commander';
import { createApiClient } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { STREAM_DEFAULTS, streamFeed } from './stream-feed.js';
import { processIo } from './io.js';
import { buildProgram, type Runner } from './program.js';
import { resolveSettings, type GlobalFlags } from './settings.js';
import { cliVersion } from './commands/version.js';

const io = processIo();
const stop = new AbortController();
process.on('SIGINT', () => {
  // First Ctrl-C: stop watching/following (and any request in flight) cleanly; a second one ends at once.
  if (stop.signal.aborted) process.exit(130);
  stop.abort();
});

// A reader that went away (gitfleet deployments | head -3) is not an error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

function login(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

const run: Runner = async (cmd, handler) => {
  const flags = cmd.optsWithGlobals<GlobalFlags>();
  const settings = await resolveSettings(flags, process.env, homedir());
  const actor = `cli:${login()}`;
  const headers = { 'x-actor': actor, 'user-agent': `gitfleet-cli/${cliVersion()}` };
  const api = createApiClient(settings, headers, stop.signal);
  // Follows the server's event stream; polls where it has none (see stream-feed.ts).
  const feed = streamFeed(api, settings, headers, { ...STREAM_DEFAULTS, note: (line) => io.err(line) });
  process.exitCode = await handler({ settings, api, feed, io, actor, signal: stop.signal });
};

let current: Command | undefined;
const program = buildProgram(async (cmd, handler) => {
  current = cmd;
  await run(cmd, handler);
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  io.endProgress();
  if (err instanceof CommanderError) {
    // Help and version asked for: 0. Anything commander refused (unknown option, missing argument): usage, 2.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof CliError) {
    io.err(`gitfleet: ${err.message}\n${err.hint ? `  (${err.hint})\n` : ''}`);
    if (err.exitCode === EXIT.usage && current) io.err(`Usage: ${current.parent ? `${current.parent.name()} ` : ''}${current.name()} ${current.usage()}\nRun '${current.parent ? `${current.parent.name()} ` : ''}${current.name()} --help' for details.\n`);
    process.exitCode = err.exitCode;
  } else {
    io.err(`gitfleet: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 70; // a bug of the CLI itself (EX_SOFTWARE)
  }
}
