// The process launcher against a real sh: exit codes, output, stdin, quoting, timeouts, aborts, a dead launcher.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Launcher } from '../../server/src/util/launcher.js';
import { zombiesUnder } from '../helpers/procs.js';

describe('process launcher', () => {
  const l = new Launcher();
  after(() => l.close());

  it('returns exit code, stdout and stderr, and feeds stdin', async () => {
    const r = await l.run('sh', ['-c', 'cat; echo out; echo err >&2; exit 3'], { stdin: 'from stdin\n' });
    assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.timedOut, r.aborted], [3, 'from stdin\nout\n', 'err\n', false, false]);
  });

  it('a program that cannot be started reports why on its stderr', async () => {
    const r = await l.run('/nonexistent/program', ['x']);
    assert.equal(r.exitCode, 127);
    assert.match(r.stderr, /nonexistent\/program/);
  });

  it('passes hostile arguments as single words, never through a shell', async () => {
    const words = ["it's", '$(touch /tmp/pwned)', 'a b', '`id`', ';', '-x', ''];
    const r = await l.run('printf', ['[%s]\\n', ...words]);
    assert.equal(r.stdout, words.map((w) => `[${w}]\n`).join(''));
  });

  it('refuses a word with a NUL byte (a shell cannot carry it) and keeps working', async () => {
    await assert.rejects(l.run('printf', ['%s', 'a\0b']), /NUL/);
    assert.equal((await l.run('printf', ['%s', 'ok'])).stdout, 'ok');
  });

  it('concurrent first jobs of a new launcher with its own directory all get their input', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const parent = await mkdtemp(join(tmpdir(), 'gf-launcher-'));
    const fresh = new Launcher({ dir: join(parent, 'run') });
    try {
      // Staggered, as host pushes start: a later first job must not clean the directory under an earlier one.
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => (async () => { for (let k = 0; k < i; k++) await new Promise((r) => setImmediate(r)); return fresh.run('cat', [], { stdin: `job ${i}\n` }); })()));
      assert.deepEqual(rs.map((r) => [r.exitCode, r.stdout]), Array.from({ length: 10 }, (_, i) => [0, `job ${i}\n`]));
    } finally {
      await fresh.close();
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('leaves no zombie behind once jobs have ended (reaped within a second, without a next job)', async () => {
    const z = new Launcher();
    try {
      for (let i = 0; i < 3; i++) assert.equal((await z.run('true', [])).exitCode, 0);
      await Promise.all(Array.from({ length: 12 }, () => z.run('sh', ['-c', 'exit 0'])));
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual((await zombiesUnder(process.pid)).map((p) => p.cmdline.join(' ') || `pid ${p.pid}`), []);
    } finally {
      await z.close();
    }
  });

  it('runs jobs side by side', async () => {
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => l.run('sh', ['-c', `sleep 0.3; echo ${i}`])));
    assert.deepEqual(rs.map((r) => r.stdout.trim()), Array.from({ length: 20 }, (_, i) => String(i)));
    assert.ok(Date.now() - t0 < 3000, 'in parallel, not one after the other');
  });

  it('kills a job that outlives its timeout, and one whose signal aborts', async () => {
    const t0 = Date.now();
    const r = await l.run('sleep', ['30'], { timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    assert.notEqual(r.exitCode, 0);
    assert.ok(Date.now() - t0 < 5000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const a = await l.run('sleep', ['30'], { signal: ac.signal });
    assert.equal(a.aborted, true);
  });

  it('leaves no zombie behind: finished jobs are reaped when the next one starts', async () => {
    const { execFile } = await import('node:child_process');
    const zombies = async () => {
      const pid = (l as unknown as { sh: { pid: number } }).sh.pid;
      const out = await new Promise<string>((resolve) => execFile('ps', ['-o', 'stat=', '--ppid', String(pid)], (_e, so) => resolve(String(so))));
      return out.split('\n').filter((st) => st.startsWith('Z')).length;
    };
    await Promise.all(Array.from({ length: 200 }, () => l.run('true', [])));
    await l.run('true', []);
    assert.ok(await zombies() <= 2, `zombie children of the launcher: ${await zombies()}`);
  });

  it('a launcher that dies fails its running jobs and is replaced on the next run', async () => {
    const pending = l.run('sleep', ['30']);
    await new Promise((r) => setTimeout(r, 200));
    const sh = (l as unknown as { sh: { pid: number } }).sh;
    process.kill(sh.pid, 'SIGKILL');
    const r = await pending;
    assert.equal(r.exitCode, null);
    assert.match(r.stderr, /launcher exited/);
    assert.equal((await l.run('echo', ['again'])).stdout, 'again\n');
  });

  describe('open: a long-lived process with live stdin and stdout (through FIFOs)', () => {
    const readUntil = (stream: NodeJS.ReadableStream, want: string) => new Promise<string>((resolve, reject) => {
      let got = '';
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(want)}; got ${JSON.stringify(got)}`)), 5000);
      stream.on('data', (c: Buffer) => { got += c.toString(); if (got.includes(want)) { clearTimeout(timer); resolve(got); } });
    });

    it('answers each request as it is written, and ends with end-of-file on its stdin; its files go with it', async () => {
      const { readdir } = await import('node:fs/promises');
      const dir = (l as unknown as { dir: string }).dir;
      const fifos = async () => (await readdir(dir)).filter((f) => /\.[io]$/.test(f)).length;
      const p = await l.open('sh', ['-c', 'while read -r line; do echo "got $line"; done; echo bye >&2; exit 7']);
      const during = await fifos();
      assert.ok(during >= 2, 'it talks through a FIFO pair');
      const out = readUntil(p.stdout, 'got two\n');
      p.stdin.write('one\n');
      await new Promise((r) => setTimeout(r, 50));
      p.stdin.write('two\n');
      assert.equal(await out, 'got one\ngot two\n');
      p.stdin.destroy();
      assert.deepEqual(await p.ended, { exitCode: 7, stderr: 'bye\n' });
      assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith(`${(l as unknown as { seq: number }).seq}.`)), [], 'its stderr file is gone');
      assert.equal(await fifos(), during - 2, 'its FIFO pair is gone (the others wait for the next programs)');
    });

    it('its stdout stays open while the program runs quietly, and reaches end-of-file when it exits', async () => {
      const p = await l.open('sh', ['-c', 'sleep 0.3; echo late']);
      let closed = false;
      const out = readUntil(p.stdout, 'late\n');
      p.stdout.on('close', () => { closed = true; });
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(closed, false, 'no end-of-file while the program runs');
      assert.equal(await out, 'late\n');
      assert.equal((await p.ended).exitCode, 0);
    });

    it('more programs at once than a batch of FIFOs: each gets a pair of its own', async () => {
      const ps = await Promise.all(Array.from({ length: 40 }, (_, i) => l.open('sh', ['-c', `read -r x; echo "$x ${i}"`])));
      const outs = ps.map((p) => readUntil(p.stdout, '\n'));
      ps.forEach((p, i) => p.stdin.write(`to ${i}\n`));
      assert.deepEqual(await Promise.all(outs), ps.map((_, i) => `to ${i} ${i}\n`));
      assert.deepEqual((await Promise.all(ps.map((p) => p.ended))).map((e) => e.exitCode), ps.map(() => 0));
    });

    it('a program that cannot be started ends with 127 and says why', async () => {
      const p = await l.open('/nonexistent/program', []);
      const { exitCode, stderr } = await p.ended;
      assert.equal(exitCode, 127);
      assert.match(stderr, /nonexistent\/program/);
    });

    it('kill ends it, and words stay single words', async () => {
      const p = await l.open('sh', ['-c', 'printf "[%s]" "$@"; cat', 'sh', "it's", '$(id)', 'a b']);
      assert.equal(await readUntil(p.stdout, '[a b]'), "[it's][$(id)][a b]");
      p.kill('SIGTERM');
      assert.equal((await p.ended).exitCode, 143);
    });
  });
});
