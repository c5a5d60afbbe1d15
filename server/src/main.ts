// Entry point: config from --config / GITFLEET_CONFIG and the environment, then startServer; SIGINT/SIGTERM drain and exit.
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { createLogger } from './log.js';
import { startServer } from './boot.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gitfleet: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.log.level);
  // Signals are handled from before the start: the server answers /healthz while start-up still finishes, and
  // a SIGTERM in that window must drain and exit 0, not kill the process (seen: a test's quick SIGTERM).
  let running: Awaited<ReturnType<typeof startServer>> | undefined;
  let stopRequested = false;
  let signals = 0;
  const stop = () => {
    running!.stop().then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn({ sig }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ sig }, 'signal received');
    stopRequested = true;
    if (running) stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    running = await startServer(config, log);
  } catch (err) {
    // A refusal to start (e.g. an open API on a public address) is a message, not a stack trace.
    if (err instanceof ConfigError) {
      process.stderr.write(`gitfleet: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (stopRequested) { stop(); return; }
  // pm2 wait_ready: say we are ready once listening.
  if (process.send) process.send('ready');
}

main().catch((err) => {
  process.stderr.write(`gitfleet: failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
