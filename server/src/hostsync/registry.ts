// Explicit registry of host-sync source types: one folder per type under sources/, each listed here.
import type { SourceType } from './source.js';
import { source as aliyun } from './sources/aliyun/index.js';
import { source as bkcmdb } from './sources/bkcmdb/index.js';
import { source as file } from './sources/file/index.js';
import { source as http } from './sources/http/index.js';
import { source as mock } from './sources/mock/index.js';

export const sourceTypes: ReadonlyMap<string, SourceType> = new Map<string, SourceType>([
  [mock.id, mock as unknown as SourceType],
  [file.id, file as unknown as SourceType],
  [http.id, http as unknown as SourceType],
  [bkcmdb.id, bkcmdb as unknown as SourceType],
  [aliyun.id, aliyun as unknown as SourceType],
]);
