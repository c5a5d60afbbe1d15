// Source "aliyun": Alibaba Cloud ECS DescribeInstances for one or more regions, every page (NextToken), signed RPC requests.
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError, UpstreamDataError, UpstreamUnavailableError } from '../../../errors.js';
import { excerpt, isRecord, requestJson } from '../../../cmdb/http-json.js';
import type { SourceRecord, SourceType } from '../../source.js';
import { signRpcQuery, type Credentials } from './sign.js';

export const id = 'aliyun';

const VERSION = '2014-05-26';
const MAX_PAGES = 10_000;

const options = {
  regions: z.array(z.string().regex(/^[a-z0-9-]+$/, 'must be a region id like cn-hangzhou')).min(1),
  /** Default: hostSync.aliyun.accessKeyId (GITFLEET_ALIYUN_ACCESS_KEY_ID). */
  accessKeyId: z.string().min(1).optional(),
  accessKeySecret: z.string().min(1).optional(),
  securityToken: z.string().min(1).optional(),
  /** `{region}` is replaced; tests and private endpoints point elsewhere. */
  endpoint: z.string().regex(/^https?:\/\/\S+$/).default('https://ecs.{region}.aliyuncs.com/'),
  /** Instances per page (MaxResults), 10-100. */
  pageSize: z.number().int().min(10).max(100).default(100),
  /** Seconds per request. */
  requestTimeout: z.number().int().min(1).max(600).default(30),
  /** Check permission once with DryRun: a RAM identity without it gets an empty list, not an error. */
  dryRunCheck: z.boolean().default(true),
};

/** Codes that mean "refused or busy" rather than "bad data". */
const UNAVAILABLE_CODE = /^(Throttling|ServiceUnavailable|InternalError|SignatureDoesNotMatch|IncompleteSignature|InvalidAccessKeyId|Forbidden|InvalidSecurityToken|UnauthorizedOperation|NoPermission)/;

const arr = (v: unknown, key: string): unknown[] => (isRecord(v) && Array.isArray(v[key]) ? (v[key] as unknown[]) : []);
const s = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');

/** DescribeInstances instance (PascalCase) → record. */
export function instanceRecord(inst: unknown, where: string): SourceRecord {
  if (!isRecord(inst) || typeof inst.InstanceId !== 'string' || !inst.InstanceId) throw new UpstreamDataError(`${where}: instance without InstanceId`);
  const vpcIps = arr(isRecord(inst.VpcAttributes) ? inst.VpcAttributes.PrivateIpAddress : undefined, 'IpAddress').map(s);
  const classicIps = arr(inst.InnerIpAddress, 'IpAddress').map(s);
  const privateIps = [...vpcIps, ...classicIps].filter((ip) => isIP(ip) !== 0);
  const publicIp = arr(inst.PublicIpAddress, 'IpAddress').map(s).find((ip) => isIP(ip) !== 0) || (isRecord(inst.EipAddress) ? s(inst.EipAddress.IpAddress) : '');
  const fields: Record<string, string> = {
    instanceId: inst.InstanceId, instanceName: s(inst.InstanceName), instanceType: s(inst.InstanceType),
    cpu: s(inst.Cpu), memoryMb: s(inst.Memory), os: s(inst.OSNameEn) || s(inst.OSName), osType: s(inst.OSType),
    region: s(inst.RegionId), zone: s(inst.ZoneId), status: s(inst.Status), privateIps: privateIps.join(','),
    publicIp, vpcId: isRecord(inst.VpcAttributes) ? s(inst.VpcAttributes.VpcId) : '', creationTime: s(inst.CreationTime),
  };
  for (const t of arr(inst.Tags, 'Tag')) if (isRecord(t) && typeof t.TagKey === 'string') fields[`tag.${t.TagKey}`] = s(t.TagValue);
  return { uid: inst.InstanceId, ip: privateIps[0], hostname: s(inst.HostName) || null, fields };
}

export const source: SourceType<typeof options> = {
  id,
  options,
  defaultMap: {
    env: { field: 'tag.env' },
    apps: { field: 'tag.app' },
    labels: ['region', 'zone', 'instanceType', 'cpu', 'memoryMb', 'os', 'status', 'tag.*'],
  },
  create(o, { name, config }) {
    const def = config.hostSync.aliyun;
    const cred: Credentials = { accessKeyId: o.accessKeyId ?? def.accessKeyId ?? '', accessKeySecret: o.accessKeySecret ?? def.accessKeySecret ?? '', securityToken: o.securityToken ?? def.securityToken };
    const problems: string[] = [];
    if (!cred.accessKeyId) problems.push(`hostSync.sources.${name}.accessKeyId: required (or hostSync.aliyun.accessKeyId / GITFLEET_ALIYUN_ACCESS_KEY_ID)`);
    if (!cred.accessKeySecret) problems.push(`hostSync.sources.${name}.accessKeySecret: required (or hostSync.aliyun.accessKeySecret / GITFLEET_ALIYUN_ACCESS_KEY_SECRET)`);
    if (problems.length) throw new ConfigError(problems);
    let permissionChecked = !o.dryRunCheck;

    /** One signed call; returns the body of a 2xx answer or throws a classified error (`DryRunOperation` counts as success). */
    async function call(region: string, params: Record<string, string>, signal: AbortSignal): Promise<Record<string, unknown>> {
      const what = `aliyun DescribeInstances ${region}`;
      const query = signRpcQuery('DescribeInstances', VERSION, { RegionId: region, ...params }, cred, randomUUID(), new Date());
      const url = `${o.endpoint.replace('{region}', region).replace(/\/?$/, '/')}?${query}`;
      const res = await requestJson(url, { method: 'GET', signal, timeoutMs: o.requestTimeout * 1000, what });
      const body = res.body;
      if (res.status >= 200 && res.status < 300) {
        if (!isRecord(body)) throw new UpstreamDataError(`${what}: answer is not a JSON object`);
        return body;
      }
      const code = isRecord(body) ? s(body.Code) : '';
      if (code === 'DryRunOperation') return {};
      const msg = `${what}: HTTP ${res.status} ${code || excerpt(res.text)}${isRecord(body) && body.Message ? `: ${s(body.Message)}` : ''}${isRecord(body) && body.RequestId ? ` (RequestId ${s(body.RequestId)})` : ''}`;
      if (res.status >= 500 || res.status === 429 || UNAVAILABLE_CODE.test(code)) throw new UpstreamUnavailableError(msg);
      throw new UpstreamDataError(msg);
    }

    return {
      type: id,
      async list(signal) {
        if (!permissionChecked) {
          await call(o.regions[0]!, { DryRun: 'true' }, signal);
          permissionChecked = true;
        }
        const out: SourceRecord[] = [];
        for (const region of o.regions) {
          let token = '';
          const seen = new Set<string>();
          for (let page = 0; ; page++) {
            if (page >= MAX_PAGES) throw new UpstreamDataError(`aliyun ${region}: paging does not end`);
            const params: Record<string, string> = { MaxResults: String(o.pageSize) };
            if (token) params.NextToken = token;
            const body = await call(region, params, signal);
            if (!isRecord(body.Instances) || !Array.isArray(body.Instances.Instance)) throw new UpstreamDataError(`aliyun ${region}: answer has no Instances.Instance[]`);
            body.Instances.Instance.forEach((inst, i) => out.push(instanceRecord(inst, `aliyun ${region} page ${page + 1} instance ${i}`)));
            token = s(body.NextToken);
            if (!token) break;
            if (seen.has(token)) throw new UpstreamDataError(`aliyun ${region}: NextToken repeats`);
            seen.add(token);
          }
        }
        return out;
      },
    };
  },
};
