import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyRsync, classifySsh } from '../../server/src/ssh/failure.js';

const x = (exitCode: number | null, stderr = '', extra: { timedOut?: boolean; aborted?: boolean } = {}) => ({ exitCode, stderr, timedOut: false, ...extra });

describe('exit code → reason', () => {
  const table: Array<[string, ReturnType<typeof x>, string | undefined, boolean | undefined]> = [
    ['success', x(0), undefined, undefined],
    ['auth failure', x(255, 'root@192.0.2.1: Permission denied (publickey).\r\nrsync: connection unexpectedly closed'), 'auth_failed', false],
    ['host key changed', x(255, '@@@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@@@\nHost key verification failed.'), 'host_key_mismatch', false],
    ['unknown host key', x(255, 'No ED25519 host key is known for 192.0.2.1 and you have requested strict checking.\nHost key verification failed.'), 'host_key_unknown', false],
    ['refused', x(255, 'ssh: connect to host 192.0.2.1 port 22: Connection refused'), 'connection_refused', true],
    ['reset', x(255, 'kex_exchange_identification: read: Connection reset by peer'), 'connection_reset', true],
    ['connect timeout (not retried)', x(255, 'ssh: connect to host 192.0.2.1 port 22: Connection timed out'), 'unreachable', false],
    ['no SSH banner (OpenSSH 9.2)', x(255, 'Connection timed out during banner exchange\r\nConnection to 192.0.2.1 port 22 timed out'), 'timeout', false],
    ['keepalive timeout', x(255, 'Timeout, server 192.0.2.1 not responding.'), 'connection_reset', true],
    ['rsync missing', x(127, 'bash: line 1: rsync: command not found'), 'rsync_missing', false],
    ['an unmanaged directory where git has a file', x(23, 'cannot delete non-empty directory: etc/x/conf.d\nrsync error: some files/attrs were not transferred (code 23)'), 'refused', false],
    ['… as seen through ssh', x(23, 'could not make way for new regular file: etc/x/conf.d\nrsync error: some files/attrs were not transferred (see previous errors) (code 23)'), 'refused', false],
    ['partial transfer', x(23, 'rsync: [receiver] mkstemp "/etc/x" failed: Read-only file system (30)'), 'partial_transfer', false],
    ['disk full', x(23, 'rsync: write failed on "/etc/x": No space left on device (28)'), 'disk_full', false],
    ['io timeout', x(30, 'rsync error: timeout in data send/receive (code 30)'), 'timeout', true],
    ['protocol', x(12, 'rsync error: error in rsync protocol data stream (code 12)'), 'protocol', true],
    ['our timeout', x(null, '', { timedOut: true }), 'timeout', true],
    ['aborted', x(null, '', { aborted: true }), 'aborted', false],
    ['other', x(3, ''), 'unknown', false],
  ];
  for (const [name, input, kind, transient] of table) {
    it(name, () => {
      const f = classifyRsync(input, 30);
      assert.equal(f?.kind, kind);
      assert.equal(f?.transient, transient);
      if (f) assert.ok(f.reason.length > 10);
    });
  }
  it('ssh remote commands: non-255 codes are the command result', () => {
    assert.equal(classifySsh(x(1, 'nginx: configuration file test failed'))?.kind, 'remote_command_failed');
    assert.equal(classifySsh(x(255, 'Connection refused'))?.kind, 'connection_refused');
    assert.equal(classifySsh(x(0)), undefined);
  });
});
