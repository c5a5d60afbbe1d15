// The gitfleet command line (commander): global options, the commands and their options, wired to the handlers.
import { Command, Option } from 'commander';
import type { CommandEnv } from './command-env.js';
import { deploymentCommand, deploymentsCommand } from './commands/deployments.js';
import { diffCommand } from './commands/diff.js';
import { hostsCommand } from './commands/hosts.js';
import { rollbackCommand } from './commands/rollback.js';
import { syncCommand } from './commands/sync.js';
import { cliVersion, versionCommand } from './commands/version.js';
import type { ExitCode } from './exit-codes.js';

/** Runs a handler for the command that was parsed: resolves settings from its (global) options, sets the exit code. */
export type Runner = (cmd: Command, handler: (env: CommandEnv) => Promise<ExitCode>) => Promise<void>;

export function buildProgram(run: Runner): Command {
  const program = new Command('gitfleet')
    .description('Command line for the gitfleet API: sync units, follow deployments, roll back, see hosts.')
    .addOption(new Option('--server <url>', 'gitfleet server URL (env GITFLEET_SERVER; default http://127.0.0.1:8080)'))
    .addOption(new Option('--token <token>', 'API token (env GITFLEET_TOKEN)'))
    .addOption(new Option('-o, --output <format>', 'table or json (json: one document on stdout)').choices(['table', 'json']))
    .addOption(new Option('--config <file>', 'CLI config file (default ~/.config/gitfleet/cli.yaml)'))
    .addOption(new Option('--timeout <seconds>', 'timeout of each request (default 30)'))
    .showHelpAfterError()
    .exitOverride();

  program.command('sync')
    .description('full sync of <env>/<app> (every mod, or --mod M; or one unit <mod>/<env>/<app>) to its hosts')
    .argument('<target>', '<env>/<app> or <mod>/<env>/<app>')
    .option('--mod <mod>', 'only this mod of env/app')
    .option('--dry-run', 'only report what would change on each host (waits for the result)')
    .option('--wait', 'wait for the deployment to finish; exit code 0 only if every host succeeded')
    .option('--host <ip...>', 'only these hosts of the unit (after the target)')
    .option('--force', 'every file through rsync (no probe or shell shortcuts)')
    .option('--override', 'go ahead outside a sync window (needs --reason)')
    .option('--reason <text>', 'why the window is overridden (recorded)')
    .option('--files', 'list each host\'s changed files in the result')
    .action((target: string, opts, cmd: Command) => run(cmd, (env) => syncCommand(env, target, opts)));

  program.command('deployments')
    .description('the latest deployments, newest first')
    .option('--limit <n>', 'how many (1-500, default 20)')
    .option('--status <status>', 'only these: queued, running, succeeded, partial, failed, interrupted')
    .option('--unit <unit>', 'only deployments of this unit <mod>/<env>/<app>')
    .option('-w, --watch', 'keep watching: print deployments as they start and change, until Ctrl-C')
    .action((opts, cmd: Command) => run(cmd, (env) => deploymentsCommand(env, opts)));

  program.command('deployment')
    .description('one deployment: per unit and per host its status, reason, attempts, duration')
    .argument('<id>', 'deployment id')
    .option('--wait', 'follow it until it has finished; exit code as for sync --wait')
    .option('--files', 'list each host\'s changed files')
    .action((id: string, opts, cmd: Command) => run(cmd, (env) => deploymentCommand(env, id, opts)));

  program.command('hosts')
    .description('the inventory (built-in): hosts with env, apps, source and rsync')
    .option('--env <env>', 'only hosts of this env')
    .option('--app <app>', 'only hosts running this app')
    .action((opts, cmd: Command) => run(cmd, (env) => hostsCommand(env, opts)));

  program.command('rollback')
    .description('deploy a unit as it was at an earlier commit (shows a dry run and asks first, unless --yes)')
    .argument('<unit>', '<mod>/<env>/<app>')
    .argument('<commit>', 'commit id or prefix (7+ hex digits)')
    .option('-y, --yes', 'do not ask (required when not on a terminal)')
    .option('--no-wait', 'do not wait for the rollback to finish')
    .option('--files', 'list each host\'s changed files in the result')
    .action((unit: string, commit: string, opts, cmd: Command) => run(cmd, (env) => rollbackCommand(env, unit, commit, opts)));

  program.command('diff')
    .description('dry run of a unit at the branch head: per host what would change')
    .argument('<unit>', '<mod>/<env>/<app>')
    .option('--host <ip...>', 'only these hosts of the unit (after the unit)')
    .action((unit: string, opts, cmd: Command) => run(cmd, (env) => diffCommand(env, unit, opts)));

  program.command('version')
    .description(`the CLI's version (${cliVersion()}) and the server's state`)
    .option('--client', 'only the CLI, ask no server')
    .action((opts, cmd: Command) => run(cmd, (env) => versionCommand(env, opts)));

  return program;
}
