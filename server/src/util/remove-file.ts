// Remove one file, fine if it is already gone. One unlink: rm({ force }) stats the path first, which doubles
// the file system calls on paths that run per host (launcher job files, control sockets).
import { unlink } from 'node:fs/promises';

export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
