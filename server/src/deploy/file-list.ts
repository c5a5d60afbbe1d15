// PURE: the file list as rsync reads it (--files-from - --from0).

/** NUL-separated list as rsync --from0 reads it. */
export const toNulList = (paths: string[]): string => paths.map((p) => `${p}\0`).join('');
