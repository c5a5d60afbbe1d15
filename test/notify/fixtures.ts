// Deployment records as the deployer's 'finished' event carries them, for notification tests.
import type { DeploymentStatus, DeploymentView, HostPushView } from '../../server/src/deploy/types.js';

export const host = (ip: string, status: HostPushView['status'], reason: string | null = null): HostPushView => ({
  unit: 'nginx/prod/shop', ip, hostname: null, status, exitCode: status === 'failed' ? 255 : 0, reason,
  filesChanged: 1, changes: [], stderrTail: null, attempts: 1, durationMs: 100, startedAt: null, finishedAt: null,
});

export function deployment(status: DeploymentStatus, over: Partial<DeploymentView> = {}): DeploymentView {
  return {
    id: 42, trigger: 'gitlab', actor: 'Ada Ops', branch: 'main', before: 'a'.repeat(40), after: 'b'.repeat(40),
    request: { kind: 'push', trigger: 'gitlab' }, units: ['nginx/prod/shop'], status, error: status === 'succeeded' ? null : 'nginx/prod/shop: failed',
    createdAt: '2026-01-01T00:00:00.000Z', startedAt: '2026-01-01T00:00:01.000Z', finishedAt: '2026-01-01T00:00:05.000Z',
    unitResults: [{ unit: 'nginx/prod/shop', commit: 'b'.repeat(40), status: status === 'succeeded' ? 'succeeded' : 'failed', reason: null, hostCount: 2, startedAt: null, finishedAt: null }],
    hosts: status === 'succeeded' ? [host('10.0.0.1', 'succeeded'), host('10.0.0.2', 'succeeded')] : [host('10.0.0.1', 'succeeded'), host('10.0.0.2', 'failed', 'ssh: connect to host 10.0.0.2 port 22: Connection refused')],
    ...over,
  };
}
