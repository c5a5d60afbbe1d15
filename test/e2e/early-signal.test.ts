// A SIGTERM while the server is still starting (its first log line is out; /healthz may already answer while
// start-up finishes) drains and exits 0: signals are handled from the start of main, not once start-up returned.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, it } from 'node:test';
import { freePort } from '../helpers/net.js';
import { exited } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
let tmp: Awaited<ReturnType<typeof tempDir>> | undefined;
after(async () => { await tmp?.cleanup(); });

it('exits 0 on a SIGTERM that arrives during start-up', async () => {
  tmp = await tempDir('gf-early-');
  const port = await freePort();
  const configFile = join(tmp.path, 'gitfleet.yaml');
  await writeFile(configFile, [`dataDir: ${join(tmp.path, 'data')}`, `server: { port: ${port} }`, 'repo: { pollInterval: 0 }', 'log: { level: info }'].join('\n'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
  // The first log line: main is running and start-up has begun (migrations, key, repo, listen, recovery...).
  await new Promise<void>((res) => child.stdout!.once('data', () => res()));
  child.kill('SIGTERM');
  child.stdout!.resume();
  assert.deepEqual(await exited(child), { code: 0, signal: null });
});
