// Source "aliyun" through its real client: the published signature test vector, every page of every region against a
// server that verifies signatures, the record shape, and failures (bad key, throttling, 5xx, malformed bodies).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalQuery, rpcSignature } from '../../server/src/hostsync/sources/aliyun/sign.js';
import { instanceRecord, source } from '../../server/src/hostsync/sources/aliyun/index.js';
import { parseConfig } from '../../server/src/config.js';
import { createLogger } from '../../server/src/log.js';
import { ConfigError, UpstreamDataError, UpstreamUnavailableError } from '../../server/src/errors.js';
import { ALIYUN_KEY, FIXTURE, makeInstance, startFakeAliyun, type FakeAliyun } from './fake-aliyun.js';

test('signature: the documented test vector', () => {
  const p = { Action: 'DescribeInstances', Version: '2014-05-26', Format: 'JSON', RegionId: 'cn-hangzhou', PageNumber: '1', PageSize: '100', 'Tag.1.Key': 'env', 'Tag.1.Value': 'prod', SignatureNonce: '6b1f0c2e-4d5a-4e8b-9c7d-2a3b4c5d6e7f', Timestamp: '2025-03-14T01:02:03Z', AccessKeyId: 'testid', SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0' };
  assert.equal(canonicalQuery(p), 'AccessKeyId=testid&Action=DescribeInstances&Format=JSON&PageNumber=1&PageSize=100&RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=6b1f0c2e-4d5a-4e8b-9c7d-2a3b4c5d6e7f&SignatureVersion=1.0&Tag.1.Key=env&Tag.1.Value=prod&Timestamp=2025-03-14T01%3A02%3A03Z&Version=2014-05-26');
  assert.equal(rpcSignature('GET', p, 'testsecret'), 'w1SWKnqz+Vy4k0dNg5XETeF6WN8=');
  assert.equal(canonicalQuery({ a: "it's (a) *test* ~ok" }), 'a=it%27s%20%28a%29%20%2Atest%2A%20~ok');
});

test('record from the documented instance shapes: private IP, hostname, type, CPU, memory, OS, tags, zone, public IP', () => {
  const [a, b, c] = FIXTURE.instances.map((i, n) => instanceRecord(i, `fixture ${n}`));
  assert.equal(a!.uid, 'i-bp1exampleaaaa00001');
  assert.equal(a!.ip, '192.0.2.31');
  assert.equal(a!.hostname, 'orders-api-prod-01');
  assert.equal(a!.fields['tag.env'], 'prod');
  assert.equal(a!.fields['tag.acs:autoscaling:scalingGroupId'], 'asg-bp1example0001');
  assert.deepEqual([a!.fields.instanceType, a!.fields.cpu, a!.fields.memoryMb, a!.fields.zone, a!.fields.os], ['ecs.g7.xlarge', '4', '16384', 'cn-hangzhou-h', 'Alibaba Cloud Linux  3.2104 LTS 64 bit']);
  assert.equal(b!.ip, '192.0.2.32');
  assert.equal(b!.fields.privateIps, '192.0.2.32,192.0.2.132');
  assert.equal(b!.fields.publicIp, '198.51.100.45', 'EIP');
  assert.equal(c!.fields.publicIp, '198.51.100.77', 'system public IP');
  assert.equal(c!.fields.status, 'Stopped');
  assert.throws(() => instanceRecord({ HostName: 'x' }, 'w'), UpstreamDataError);
});

let fa: FakeAliyun;
before(async () => { fa = await startFakeAliyun(); });
after(async () => { assert.deepEqual(fa.fake.unexpected.map((r) => r.path), [], 'no unexpected calls'); await fa.close(); });

const make = (opts: Record<string, unknown> = {}, shared: Record<string, unknown> = { aliyun: ALIYUN_KEY }) => source.create(
  { regions: ['cn-hangzhou', 'cn-beijing'], endpoint: fa.endpoint, pageSize: 10, requestTimeout: 2, dryRunCheck: true, ...opts } as never,
  { name: 'ecs', config: parseConfig({ hostSync: shared }), log: createLogger('silent') },
);

test('all pages of all regions, signed; DryRun once; credentials inline or shared', async () => {
  fa.regions.set('cn-hangzhou', Array.from({ length: 23 }, (_, i) => makeInstance(i + 1, 'cn-hangzhou', { env: 'prod', app: 'shop' })));
  fa.regions.set('cn-beijing', Array.from({ length: 5 }, (_, i) => makeInstance(i + 100, 'cn-beijing', { env: 'test', app: 'pay' })));
  fa.requests.length = 0;
  const src = make();
  const recs = await src.list(AbortSignal.timeout(5000));
  assert.equal(recs.length, 28);
  assert.equal(new Set(recs.map((r) => r.uid)).size, 28);
  assert.deepEqual(fa.requests.map((q) => [q.get('RegionId'), q.get('DryRun'), q.get('NextToken'), q.get('MaxResults')]), [
    ['cn-hangzhou', 'true', null, null],
    ['cn-hangzhou', null, null, '10'], ['cn-hangzhou', null, 'tok-cn-hangzhou-10', '10'], ['cn-hangzhou', null, 'tok-cn-hangzhou-20', '10'],
    ['cn-beijing', null, null, '10'],
  ]);
  fa.requests.length = 0;
  await src.list(AbortSignal.timeout(5000));
  assert.equal(fa.requests.filter((q) => q.get('DryRun')).length, 0, 'DryRun only once');
  const inline = make({ ...ALIYUN_KEY, dryRunCheck: false }, {});
  assert.equal((await inline.list(AbortSignal.timeout(5000))).length, 28);
  assert.throws(() => make({}, {}), (e: unknown) => e instanceof ConfigError && /accessKeyId: required/.test(e.message));
});

test('wrong secret → signature refused (unavailable); throttling, 5xx → unavailable; malformed → bad data', async () => {
  await assert.rejects(make({ accessKeySecret: 'wrong', accessKeyId: ALIYUN_KEY.accessKeyId }).list(AbortSignal.timeout(5000)),
    (e: unknown) => e instanceof UpstreamUnavailableError && /SignatureDoesNotMatch/.test((e as Error).message));
  await assert.rejects(make({ accessKeyId: 'nobody', accessKeySecret: 'x' }).list(AbortSignal.timeout(5000)),
    (e: unknown) => e instanceof UpstreamUnavailableError && /InvalidAccessKeyId/.test((e as Error).message));
  const cases: Array<[FakeAliyun['failNext'][number], typeof UpstreamUnavailableError | typeof UpstreamDataError, RegExp]> = [
    [{ status: 400, body: FIXTURE.error }, UpstreamUnavailableError, /Throttling\.User.*RequestId 9E8D7C6B/],
    [{ status: 503, raw: 'Service Unavailable' }, UpstreamUnavailableError, /HTTP 503/],
    [{ status: 200, raw: '<xml/>' }, UpstreamDataError, /not JSON/],
    [{ status: 200, body: { RequestId: 'x', Instances: {} } }, UpstreamDataError, /no Instances\.Instance/],
    [{ status: 200, body: { Instances: { Instance: [{ Cpu: 2 }] } } }, UpstreamDataError, /without InstanceId/],
    [{ status: 400, body: { Code: 'InvalidParameter', Message: 'nope' } }, UpstreamDataError, /InvalidParameter: nope/],
  ];
  const src = make({ dryRunCheck: false });
  for (const [reply, cls, re] of cases) {
    fa.failNext.push(reply);
    await assert.rejects(src.list(AbortSignal.timeout(5000)), (e: unknown) => e instanceof cls && re.test((e as Error).message), re.source);
  }
});
