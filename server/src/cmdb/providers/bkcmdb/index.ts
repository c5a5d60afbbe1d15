// CMDB provider "bkcmdb": BlueKing CMDB list_biz_hosts with env → set and app → module (names), every page.
import { ConfigError } from '../../../errors.js';
import { BkCmdbClient, firstInnerIp } from '../../bkcmdb-client.js';
import { resolveBkConnection } from '../../config-schema.js';
import type { CmdbProvider, ProviderFactory, TargetHost } from '../../provider.js';
import { HOSTNAME_RE } from '../../../util/validate.js';

export const id = 'bkcmdb';

const FIELDS = ['bk_host_id', 'bk_host_innerip', 'bk_host_name', 'bk_cloud_id'];

export const create: ProviderFactory = ({ config, log }): CmdbProvider => {
  const c = config.inventory.bkcmdb;
  const client = new BkCmdbClient(resolveBkConnection('inventory.bkcmdb', c));
  if (!c.bizId) throw new ConfigError(['inventory.bkcmdb.bizId: required (the business id, bk_biz_id)']);
  const bizId = c.bizId;
  return {
    id,
    async resolveHosts({ env, app }, signal) {
      const set = c.envSets[env] ?? env;
      const module = c.appModules[app] ?? app;
      const hosts = await client.listBizHosts(bizId, {
        // set_cond/module_cond take Mongo-style operators; `equal` there silently matches nothing.
        setCond: [{ field: 'bk_set_name', operator: '$eq', value: set }],
        moduleCond: [{ field: 'bk_module_name', operator: '$eq', value: module }],
        hostFilter: c.cloudId === undefined ? undefined : { condition: 'AND', rules: [{ field: 'bk_cloud_id', operator: 'equal', value: c.cloudId }] },
        fields: FIELDS,
      }, signal);
      const out: TargetHost[] = [];
      for (const h of hosts) {
        const ip = firstInnerIp(h.bk_host_innerip);
        if (!ip) {
          log.warn({ bkHostId: h.bk_host_id, env, app }, 'bkcmdb host without a usable inner IP skipped');
          continue;
        }
        const name = typeof h.bk_host_name === 'string' && HOSTNAME_RE.test(h.bk_host_name) ? h.bk_host_name : null;
        out.push({ ip, hostname: name });
      }
      return out;
    },
  };
};
