// A fake ECS endpoint: DescribeInstances with NextToken paging (MaxResults), DryRun, and a real check of the RPC
// signature (recomputed from the query with the known secret), nonce reuse and timestamp skew.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFake, type FakeUpstream } from '../cmdb/fake-upstream.js';

export const ALIYUN_KEY = { accessKeyId: 'test-key-id', accessKeySecret: 'test-key-secret-not-real' };
export const FIXTURE = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'aliyun-instances.json'), 'utf8')) as { instances: any[]; error: any };

/** An instance shaped like the documented one, with its own id, IP and tags. */
export function makeInstance(n: number, region: string, tags: Record<string, string>, ip = `10.20.${n >> 8}.${n & 255}`): any {
  const t = structuredClone(FIXTURE.instances[0]);
  t.InstanceId = `i-${region}-${String(n).padStart(5, '0')}`;
  t.HostName = `ecs-${n}`;
  t.RegionId = region;
  t.ZoneId = `${region}-h`;
  t.VpcAttributes.PrivateIpAddress.IpAddress = [ip];
  t.Tags.Tag = Object.entries(tags).map(([k, v]) => ({ TagKey: k, TagValue: v }));
  return t;
}

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export interface FakeAliyun {
  fake: FakeUpstream;
  endpoint: string;
  regions: Map<string, any[]>;
  failNext: Array<{ status: number; body?: unknown; raw?: string }>;
  requests: URLSearchParams[];
  close(): Promise<void>;
}

export async function startFakeAliyun(): Promise<FakeAliyun> {
  const fake = await startFake();
  const regions = new Map<string, any[]>();
  const failNext: FakeAliyun['failNext'] = [];
  const requests: URLSearchParams[] = [];
  const nonces = new Set<string>();
  const tokens = new Map<string, number>();
  const err = (status: number, Code: string, Message: string) => ({ status, body: { RequestId: 'REQ-1', HostId: 'ecs.example', Code, Message } });
  const handler = (region: string) => (req: { query: URLSearchParams }) => {
    const q = req.query;
    requests.push(q);
    // Verify the signature exactly as the service would.
    const sig = q.get('Signature');
    const params = [...q.entries()].filter(([k]) => k !== 'Signature').sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const canonical = params.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
    const expected = createHmac('sha1', `${ALIYUN_KEY.accessKeySecret}&`).update(`GET&${enc('/')}&${enc(canonical)}`).digest('base64');
    if (q.get('AccessKeyId') !== ALIYUN_KEY.accessKeyId) return err(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    if (!sig || sig !== expected) return err(400, 'SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.');
    if (q.get('SignatureMethod') !== 'HMAC-SHA1' || q.get('SignatureVersion') !== '1.0' || q.get('Version') !== '2014-05-26' || q.get('Action') !== 'DescribeInstances' || q.get('Format') !== 'JSON') return err(400, 'MissingParameter', 'common parameter missing');
    const nonce = q.get('SignatureNonce') ?? '';
    if (!nonce || nonces.has(nonce)) return err(400, 'SignatureNonceUsed', 'The request signature nonce has been used.');
    nonces.add(nonce);
    const ts = Date.parse(q.get('Timestamp') ?? '');
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(q.get('Timestamp') ?? '') || Math.abs(Date.now() - ts) > 15 * 60_000) return err(400, 'InvalidTimeStamp.Expired', 'timestamp');
    if (q.get('RegionId') !== region) return err(400, 'InvalidRegionId.Malformed', 'region');
    if (q.get('DryRun') === 'true') return err(400, 'DryRunOperation', 'Request validation has been passed with DryRun flag set.');
    const f = failNext.shift();
    if (f) return f;
    if (q.has('PageNumber') || q.has('PageSize')) return err(400, 'InvalidParameter', 'do not mix paging modes');
    const max = Math.min(Math.max(Number(q.get('MaxResults') ?? 10), 10), 100);
    const token = q.get('NextToken');
    const start = token ? tokens.get(token) : 0;
    if (start === undefined) return err(400, 'InvalidNextToken', 'bad token');
    const all = regions.get(region) ?? [];
    const page = all.slice(start, start + max);
    let next = '';
    if (start + max < all.length) { next = `tok-${region}-${start + max}`; tokens.set(next, start + max); }
    return { body: { RequestId: 'REQ-OK', TotalCount: 0, NextToken: next, Instances: { Instance: page } } };
  };
  for (const r of ['cn-hangzhou', 'cn-beijing']) fake.route(`GET /${r}/`, handler(r));
  return { fake, endpoint: `${fake.url}/{region}/`, regions, failNext, requests, close: () => fake.close() };
}
