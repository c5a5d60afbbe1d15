// Conformance: the test files that exercise the store most, run again on PostgreSQL (they run on SQLite as part of
// the suite anyway). One private cluster serves them all (GITFLEET_TEST_PG_ADMIN); each test server gets a fresh
// database per data dir (test/helpers/store.ts). The files run one after another so the suite's CPU use stays level.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requirePostgres, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** The files, with what of the store each one covers. */
export const CONFORMANCE_FILES: Array<[file: string, covers: string]> = [
  ['test/windows/held-store.test.ts', 'held work merge rules (db-level)'],
  ['test/hostsync/reconcile.test.ts', 'host-sync plans applied with savepoints (db-level)'],
  ['test/hostsync/job.test.ts', 'host-sync runs: safety refusals, per-record errors (db-level)'],
  ['test/essync/api.test.ts', 'ES sync tasks (unique live name), runs and host rows, metrics on hosts'],
  ['test/agents/runs.test.ts', 'agent collection runs, interrupted runs closed at start'],
  ['test/e2e/coalescing.test.ts', 'deployments, coalescing of pushes and syncs'],
  ['test/e2e/host-push-records.test.ts', 'per-host push records'],
  ['test/e2e/crash-recovery.test.ts', 'kill -9 mid-deployment, interrupted and resumed on restart (server process)'],
  ['test/hostsync/converge-e2e.test.ts', 'inventory and host sync, converge deployments'],
  ['test/windows/held-e2e.test.ts', 'sync windows: held units released as one deployment'],
  ['test/db/dashboard-reads.test.ts', 'matrix, held units, a host\'s pushes (request JSON per dialect), host facts (db-level)'],
  ['test/auth/audit.test.ts', 'audit log rows, filters, append-only triggers (UPDATE, DELETE, TRUNCATE refused) and the retention prune'],
  ['test/auth/tokens.test.ts', 'API tokens: create, unique names (409), revoke, expiry, last use'],
  ['test/dashboard/session.test.ts', 'dashboard sessions (digests, expiry, revocation by the token)'],
  ['test/preview/preview-e2e.test.ts', 'merge-request previews: the upsert of a newer head, status, comment id'],
  ['test/e2e/dry-run-diff.test.ts', 'dry-run host diffs beside their host pushes'],
  ['test/templating/templates-fleet.test.ts', 'render hashes on host pushes, inventory facts for templates'],
];

/** Files run again in cluster mode (one process as API node and worker: deployments claimed from the store). */
export const CLUSTER_FILES: Array<[file: string, covers: string]> = [
  ['test/e2e/coalescing.test.ts', 'coalescing of pushes and syncs with the queue in the store'],
  ['test/e2e/host-push-records.test.ts', 'per-host records written by the worker, metrics by the coordinator'],
  ['test/e2e/push-pipeline.test.ts', 'the push pipeline through claims, leases and fenced records'],
  ['test/hostsync/converge-e2e.test.ts', 'converge deployments (host-scoped) through the queue'],
  ['test/templating/templates-fleet.test.ts', 'per-host renders staged by the worker that pushes the host'],
];

function runFiles(files: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.once('error', rej);
    p.once('close', (code) => res({ code, out }));
  });
}

if (requirePostgres()) {
  describe('conformance on PostgreSQL', () => {
    let cluster: TestPostgres;
    before(async () => { cluster = await startPostgres(); });
    after(async () => { await cluster?.stop(); });

    /** Run a file again in a child with these settings; it must pass and run tests. */
    const rerun = (file: string, covers: string, mode: string, extra: NodeJS.ProcessEnv) => test(`${file} passes ${mode} (${covers})`, async () => {
      const t0 = Date.now();
      // NODE_TEST_CONTEXT would make the child think it is a file of this run and run nothing.
      const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
      const r = await runFiles([file], { ...env, GITFLEET_TEST_STORE: 'postgres', GITFLEET_TEST_PG_ADMIN: cluster.adminUrl, ...extra });
      const summary = /ℹ pass (\d+)[\s\S]*?ℹ fail (\d+)/.exec(r.out);
      process.stderr.write(`conformance (${mode}) ${file}: exit ${r.code}, ${summary ? `${summary[1]} passed, ${summary[2]} failed` : 'no summary'}, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      assert.equal(r.code, 0, `${file} failed ${mode}:\n${r.out.slice(-12_000)}`);
      assert.ok(summary && Number(summary[1]) > 0, `${file} ran no test ${mode}:\n${r.out.slice(-4000)}`);
    });
    for (const [file, covers] of CONFORMANCE_FILES) rerun(file, covers, 'on PostgreSQL', {});
    for (const [file, covers] of CLUSTER_FILES) rerun(file, covers, 'in cluster mode', { GITFLEET_TEST_CLUSTER: '1' });
  });
}
