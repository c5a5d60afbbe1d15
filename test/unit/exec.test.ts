import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { runCommand } from '../../server/src/util/exec.js';

describe('runCommand', () => {
  it('returns exit code and output tails, with no shell', async () => {
    const r = await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.timedOut], [3, 'out\n', 'err\n', false]);
    const lit = await runCommand('echo', ['$(id)', ';', '|']);
    assert.equal(lit.stdout, '$(id) ; |\n', 'arguments are never interpreted');
  });
  it('kills the whole process group on timeout', async () => {
    const r = await runCommand('sh', ['-c', 'sleep 30 & sleep 30; echo never'], { timeoutMs: 300, killGraceMs: 200 });
    assert.equal(r.timedOut, true);
    assert.ok(r.durationMs < 5000);
  });
  it('resolves soon after exit even when a descendant keeps the output pipes open (as an SSH master does)', async () => {
    const started = Date.now();
    // The grandchild leaves the process group (setsid) holding stderr; the process itself exits at once.
    const r = await runCommand('sh', ['-c', 'setsid sleep 5 >/dev/null & exit 0']);
    assert.equal(r.exitCode, 0);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    spawn('pkill', ['-f', '^sleep 5$']);
  });
  it('stops on abort', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await runCommand('sleep', ['10'], { signal: ac.signal });
    assert.equal(r.aborted, true);
  });
});
