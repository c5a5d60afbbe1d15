// PURE: quote arguments for a POSIX shell (the remote login shell that ssh hands its command to).
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('argument contains NUL');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** `sh -c SCRIPT sh ARGS...` as one command line: the script sees its arguments as $1.., never re-parsed. */
export function shCommand(script: string, args: string[] = []): string {
  return ['sh', '-c', script, 'sh', ...args].map(shellQuote).join(' ');
}
