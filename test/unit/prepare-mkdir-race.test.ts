// Two units of one host whose files go into the same new directory (nginx/prod/shop and nginx/bx/shop → conf.d)
// are pushed at the same moment (a cluster worker claims both at once): the host check of each makes the
// directory if it is missing. The one that loses the race to mkdir must take the directory the other made, not
// refuse the push ("could not be created"). Real sh on this machine's filesystem, many runs side by side.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { PREPARE_SCRIPT } from '../../server/src/deploy/host-prepare.js';

function runCheck(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', PREPARE_SCRIPT, 'sh', '', '', '', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, out }));
  });
}

test('host checks racing to make the same new directories: all go ahead, each directory recorded as made once', async () => {
  const base = join(tmpdir(), `gf-mkdir-race-${process.pid}`);
  await rm(base, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  try {
    for (let round = 0; round < 12; round++) {
      // The script works from / with paths relative to it, as on a host.
      const dir = relative('/', join(base, `r${round}`, 'conf.d'));
      await mkdir(join(base, `r${round}`));
      const runs = await Promise.all(Array.from({ length: 12 }, () => runCheck(['N', dir, 'N', `${dir}/sub`])));
      for (const r of runs) assert.equal(r.code, 0, `round ${round}: a racing check refused: ${JSON.stringify(r.out)}`);
      const made = (d: string) => runs.filter((r) => r.out.split('\0').includes(`/${d}`)).length;
      assert.equal(made(dir), 1, `round ${round}: ${dir} recorded as made by exactly one check`);
      assert.equal(made(`${dir}/sub`), 1, `round ${round}: ${dir}/sub recorded as made by exactly one check`);
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
