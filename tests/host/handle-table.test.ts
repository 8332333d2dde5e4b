// HandleTable (host/core/handle-table.ts): the table from core handles to the host's objects for
// them, which stacks and backends use instead of a Map. It must answer exactly as a Map would,
// through growth, probe runs that wrap around the end of its array, and deletions inside runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HandleTable } from '../../host/core/handle-table.js';

/** A small deterministic generator (xorshift32), so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

function same(t: HandleTable<string>, m: Map<number, string>, where: string): void {
  assert.equal(t.size, m.size, `${where}: size`);
  const sorted = [...m.keys()].sort((a, b) => a - b);
  assert.deepEqual(t.keys(), sorted, `${where}: keys`);
  assert.deepEqual(t.values(), sorted.map((k) => m.get(k)), `${where}: values`);
}

test('HandleTable answers as a Map under churn like a stack\'s: handles counted up, a window of them live', () => {
  for (const seed of [1, 2, 3, 0xdecade]) {
    const r = rng(seed);
    const t = new HandleTable<string>();
    const m = new Map<number, string>();
    let next = 1;
    const live: number[] = [];
    for (let step = 0; step < 20000; step++) {
      const target = 1 + Math.floor(r() * 200); // how many live handles the window drifts to
      if (live.length < target || r() < 0.3) {
        const h = next++;
        t.set(h, `v${h}`);
        m.set(h, `v${h}`);
        live.push(h);
      } else {
        // Close one of the live handles, not always the oldest (long-lived ones stay put).
        const i = Math.floor(r() * live.length);
        const h = live[i];
        live.splice(i, 1);
        assert.equal(t.delete(h), true, `seed ${seed} step ${step}: delete ${h}`);
        m.delete(h);
      }
      if (step % 97 === 0) {
        const probe = 1 + Math.floor(r() * next);
        assert.equal(t.get(probe), m.get(probe), `seed ${seed} step ${step}: get ${probe}`);
        assert.equal(t.has(probe), m.has(probe), `seed ${seed} step ${step}: has ${probe}`);
      }
      if (step % 1000 === 0) same(t, m, `seed ${seed} step ${step}`);
    }
    for (const h of live) assert.equal(t.get(h), `v${h}`);
    same(t, m, `seed ${seed} end`);
  }
});

test('HandleTable: handles that collide on the low bits, deleted from the middle of their run and across the wrap', () => {
  const t = new HandleTable<string>();
  const m = new Map<number, string>();
  // Capacity starts at 64: handles 63, 127, 191, 255 all want slot 63 and wrap to 0, 1, 2;
  // 64 and 128 want slot 0 and find it taken.
  const hs = [63, 127, 191, 64, 255, 128, 1];
  for (const h of hs) { t.set(h, `v${h}`); m.set(h, `v${h}`); }
  same(t, m, 'filled');
  for (const h of [127, 64, 63, 255]) {
    assert.equal(t.delete(h), true);
    m.delete(h);
    for (const k of hs) assert.equal(t.get(k), m.get(k), `after deleting ${h}: get ${k}`);
    same(t, m, `after deleting ${h}`);
  }
  assert.equal(t.delete(127), false, 'deleting an absent handle');
  t.set(191, 'again');
  m.set(191, 'again');
  same(t, m, 'overwritten');
});

test('HandleTable: a long run of live handles (a server\'s connections opened in a row), closed in order and out of order', () => {
  const t = new HandleTable<number>();
  const m = new Map<number, number>();
  for (let h = 1; h <= 3000; h++) { t.set(h, h); m.set(h, h); }
  for (let h = 1; h <= 3000; h += 2) { t.delete(h); m.delete(h); } // every other one: tombstones inside the run
  for (let h = 3001; h <= 4000; h++) { t.set(h, h); m.set(h, h); } // new ones while they are there
  for (let h = 3000; h >= 2; h -= 2) { t.delete(h); m.delete(h); }
  assert.equal(t.size, m.size);
  assert.deepEqual(t.keys(), [...m.keys()].sort((a, b) => a - b));
  for (let h = 1; h <= 4000; h++) assert.equal(t.get(h), m.get(h), `get ${h}`);
});

test('HandleTable: growth keeps every entry; clear() empties; set() refuses what is not a handle', () => {
  const t = new HandleTable<number>();
  for (let h = 1; h <= 5000; h += 3) t.set(h, h * 2);
  assert.equal(t.size, 1667);
  for (let h = 1; h <= 5000; h++) assert.equal(t.get(h), h % 3 === 1 ? h * 2 : undefined);
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.get(1), undefined);
  assert.deepEqual(t.values(), []);
  for (const bad of [0, -1, 1.5, NaN, 2 ** 32 - 1, 2 ** 32]) assert.throws(() => t.set(bad, 1), RangeError, String(bad));
});
