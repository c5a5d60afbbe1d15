// Source "mock": 25–60 generated hosts with group/product/app, CPU/mem/disk, region, provider and tags — for demos.
// Seeded (the same seed gives the same fleet); each run may drift a little (churn) so the demo shows changes.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { SourceRecord, SourceType } from '../../source.js';

export const id = 'mock';

const GROUPS = ['prod', 'staging', 'test'];
const PRODUCTS = ['shop', 'pay', 'search', 'user'];
const ROLES = ['api', 'web', 'worker'];
const REGIONS = ['cn-hangzhou', 'cn-beijing', 'cn-shanghai'];
const PROVIDERS = ['aliyun', 'tencent', 'idc'];
const SIZES: Array<[number, number, number]> = [[2, 4, 40], [4, 8, 100], [8, 16, 200], [16, 64, 500]];

const options = {
  minHosts: z.number().int().min(1).max(10_000).default(25),
  maxHosts: z.number().int().min(1).max(10_000).default(60),
  /** Same seed, same fleet (default: the source name). */
  seed: z.string().optional(),
  /** First two octets of the generated IPs. */
  subnet: z.string().regex(/^\d{1,3}\.\d{1,3}$/, 'must be two octets like 10.77').default('10.77'),
  /** Share of hosts that change (resize, move, appear, disappear) on each run after the first; 0 = a fixed fleet. */
  churn: z.number().min(0).max(0.5).default(0.05),
};

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface MockHost { n: number; group: string; product: string; role: string; size: number; region: string; provider: string; owner: string }

export const source: SourceType<typeof options> = {
  id,
  options,
  defaultMap: {
    env: { field: 'group' },
    apps: { field: 'app' },
    labels: ['group', 'product', 'region', 'provider', 'cpu', 'memGb', 'diskGb', 'tag.*'],
  },
  create(o, { name }) {
    const seed = createHash('sha1').update(o.seed ?? name).digest().readUInt32BE(0);
    const rnd = prng(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const min = Math.min(o.minHosts, o.maxHosts);
    const max = Math.max(o.minHosts, o.maxHosts);
    let next = 1;
    const make = (): MockHost => ({
      n: next++, group: pick(GROUPS), product: pick(PRODUCTS), role: pick(ROLES), size: Math.floor(rnd() * SIZES.length),
      region: pick(REGIONS), provider: pick(PROVIDERS), owner: pick(['alice', 'bob', 'carol']),
    });
    const fleet: MockHost[] = Array.from({ length: min + Math.floor(rnd() * (max - min + 1)) }, make);
    let runs = 0;
    const toRecord = (h: MockHost): SourceRecord => {
      const [cpu, mem, disk] = SIZES[h.size]!;
      const app = `${h.product}-${h.role}`;
      return {
        uid: `mock-${h.n}`,
        ip: `${o.subnet}.${h.n >> 8}.${h.n & 255}`,
        hostname: `${app}-${h.n}`,
        fields: {
          group: h.group, product: h.product, app, cpu: String(cpu), memGb: String(mem), diskGb: String(disk),
          region: h.region, provider: h.provider, 'tag.owner': h.owner, 'tag.tier': h.role === 'web' ? 'frontend' : 'backend',
        },
      };
    };
    return {
      type: id,
      async list() {
        if (runs++ > 0 && o.churn > 0) {
          for (const h of fleet) if (rnd() < o.churn) h.size = Math.floor(rnd() * SIZES.length);
          const swaps = Math.round(fleet.length * o.churn * rnd());
          for (let i = 0; i < swaps; i++) {
            if (rnd() < 0.5 && fleet.length > min) fleet.splice(Math.floor(rnd() * fleet.length), 1);
            else if (fleet.length < max) fleet.push(make());
          }
        }
        return fleet.map(toRecord);
      },
    };
  },
};
