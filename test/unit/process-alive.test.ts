// processAlive against real processes: running, gone, and a zombie nobody reaps yet.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { processAlive } from '../../server/src/util/process-alive.js';

describe('processAlive', () => {
  it('is true for a running process and false once it is gone', async () => {
    const p = spawn('sleep', ['5']);
    await new Promise((r) => p.once('spawn', r));
    assert.equal(processAlive(p.pid!), true);
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
    assert.equal(processAlive(p.pid!), false);
  });

  it('is false for a zombie (exited, not yet reaped), which kill(pid, 0) still finds', async () => {
    // sh starts a child and then becomes `sleep`, which never waits: the child stays a zombie while sleep runs.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 3'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number(await new Promise<string>((r) => parent.stdout.once('data', (c: Buffer) => r(c.toString().trim()))));
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.doesNotThrow(() => process.kill(pid, 0), 'the zombie still has its pid');
      assert.equal(processAlive(pid), false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
