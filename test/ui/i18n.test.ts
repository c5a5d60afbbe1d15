// Both catalogues have the same keys and placeholders, and every key the dashboard's source asks for exists.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { en } from '../../server/ui/src/locales/en.js';
import { zhCN } from '../../server/ui/src/locales/zh-CN.js';
import { initialLanguage } from '../../server/ui/src/i18n.js';

type Tree = { [k: string]: string | Tree };
const flat = (t: Tree, pre = ''): Map<string, string> => new Map(Object.entries(t).flatMap(([k, v]) => (typeof v === 'string' ? [[`${pre}${k}`, v] as [string, string]] : [...flat(v, `${pre}${k}.`)])));
const SRC = resolve(import.meta.dirname, '..', '..', 'server', 'ui', 'src');
const files = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? files(join(d, n)) : /\.tsx?$/.test(n) ? [join(d, n)] : []));
const placeholders = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();

describe('dashboard catalogues', () => {
  const E = flat(en as unknown as Tree);
  const Z = flat(zhCN as unknown as Tree);

  it('have exactly the same keys, none empty, with the same placeholders', () => {
    assert.deepEqual([...Z.keys()].filter((k) => !E.has(k)), [], 'keys only in zh-CN');
    assert.deepEqual([...E.keys()].filter((k) => !Z.has(k)), [], 'keys missing in zh-CN');
    for (const [k, v] of E) {
      assert.ok(v.trim() && Z.get(k)!.trim(), `${k} is empty`);
      assert.deepEqual(placeholders(Z.get(k)!), placeholders(v), `${k}: placeholders differ`);
    }
  });

  it('zh-CN is really translated (Chinese characters in every value but the product name)', () => {
    const untranslated = [...Z].filter(([k, v]) => k !== 'app.title' && !/[\u4e00-\u9fff]/.test(v)).map(([k]) => k);
    assert.deepEqual(untranslated, []);
  });

  it('every key used in the source exists (t("…") with a literal key)', () => {
    const used = new Set<string>();
    for (const f of files(SRC)) for (const m of readFileSync(f, 'utf8').matchAll(/\bt\(\s*'([a-zA-Z]+\.[a-zA-Z_.]+)'/g)) used.add(m[1]!);
    assert.ok(used.size > 100, `found ${used.size} keys: the scan works`);
    assert.deepEqual([...used].filter((k) => !E.has(k)), []);
  });

  it('every status the API can send has a label (statuses are translated by key)', () => {
    const statuses = ['queued', 'running', 'succeeded', 'partial', 'failed', 'interrupted', 'pending', 'error', 'skipped', 'aborted', 'held', 'no_hosts',
      'in_sync', 'behind', 'drifted', 'unreachable', 'success', 'refused', 'not_in_pool', 'no_data'];
    assert.deepEqual(statuses.filter((s) => !E.has(`status.${s}`)), []);
  });

  it('picks the language from the stored choice, else the browser', () => {
    const table: Array<[string | null, string[], string]> = [
      [null, ['zh-CN', 'en'], 'zh-CN'], [null, ['zh-TW'], 'zh-CN'], [null, ['zh'], 'zh-CN'], [null, ['en-GB', 'zh-CN'], 'en'],
      [null, ['fr-FR', 'zh-CN'], 'zh-CN'], [null, ['fr-FR'], 'en'], ['en', ['zh-CN'], 'en'], ['zh-CN', ['en-US'], 'zh-CN'], ['xx', ['zh-CN'], 'zh-CN'],
    ];
    for (const [stored, browser, want] of table) assert.equal(initialLanguage(stored, browser), want, `${stored} ${browser}`);
  });
});
