// Source "bkcmdb": every host of a BlueKing business with its set and module names (list_biz_hosts_topo, all pages),
// plus the resource_watch feed so that topology changes sync within seconds.
import { z } from 'zod';
import { BkCmdbClient, firstInnerIp } from '../../../cmdb/bkcmdb-client.js';
import { bkConnectionSchema, resolveBkConnection } from '../../../cmdb/config-schema.js';
import { ConfigError } from '../../../errors.js';
import { followBkCmdb } from '../../bk-watch.js';
import type { SourceRecord, SourceType } from '../../source.js';

export const id = 'bkcmdb';

const FIELDS = ['bk_host_id', 'bk_host_innerip', 'bk_host_outerip', 'bk_host_name', 'bk_cloud_id', 'bk_os_type', 'bk_os_name', 'bk_cpu', 'bk_mem', 'bk_disk', 'bk_agent_id', 'operator'];

const options = {
  /** Connection settings; keys not given here come from `inventory.bkcmdb`. */
  connection: bkConnectionSchema.optional(),
  /** Business id (default: inventory.bkcmdb.bizId). */
  bizId: z.number().int().min(1).optional(),
  /** Extra host attributes to request; they appear as record fields under their own names. */
  fields: z.array(z.string().regex(/^[A-Za-z0-9_]+$/)).default([]),
  /** Follow resource_watch (host, host_relation) between scheduled runs. */
  watch: z.boolean().default(true),
};

const str = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

export const source: SourceType<typeof options> = {
  id,
  options,
  defaultMap: {
    env: { field: 'set' },
    apps: { field: 'module' },
    labels: ['set', 'module', 'cloudId', 'os', 'cpu', 'memMb', 'diskGb', 'outerIp'],
    // The built-in idle pool holds hosts that run nothing.
    exclude: { set: ['空闲机池', 'Idle Pool'] },
  },
  create(o, { name, config }) {
    const client = new BkCmdbClient(resolveBkConnection(`hostSync.sources.${name}.connection`, o.connection, config.inventory.bkcmdb));
    const bizId = o.bizId ?? config.inventory.bkcmdb.bizId;
    if (!bizId) throw new ConfigError([`hostSync.sources.${name}.bizId: required (or inventory.bkcmdb.bizId)`]);
    const fields = [...new Set([...FIELDS, ...o.fields])];
    return {
      type: id,
      async list(signal) {
        const rows = await client.listBizHostsTopo(bizId, fields, signal);
        return rows.map(({ host: h, sets }): SourceRecord => {
          const extra: Record<string, string> = {};
          for (const f of o.fields) extra[f] = str(h[f]);
          return {
            uid: String(h.bk_host_id),
            ip: firstInnerIp(h.bk_host_innerip),
            hostname: str(h.bk_host_name) || null,
            fields: {
              ...extra,
              bkHostId: String(h.bk_host_id),
              set: sets.map((s) => s.name).join(','),
              module: [...new Set(sets.flatMap((s) => s.modules.map((m) => m.name)))].join(','),
              innerIps: str(h.bk_host_innerip), outerIp: str(h.bk_host_outerip).split(',')[0] ?? '',
              cloudId: str(h.bk_cloud_id), osType: str(h.bk_os_type), os: str(h.bk_os_name),
              cpu: str(h.bk_cpu), memMb: str(h.bk_mem), diskGb: str(h.bk_disk), agentId: str(h.bk_agent_id), operator: str(h.operator),
            },
          };
        });
      },
      follow: o.watch ? (f) => followBkCmdb(client, { bizId }, f) : undefined,
    };
  },
};
