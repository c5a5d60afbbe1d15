// The rendered copy a host push used (templated units): a short digest of what the host's templates rendered to.
import type { Queryable } from './connection.js';

export async function setHostPushRender(q: Queryable, rowId: number, renderHash: string): Promise<void> {
  await q.run('UPDATE host_pushes SET render_hash = ? WHERE id = ?', [renderHash.slice(0, 16), rowId]);
}
