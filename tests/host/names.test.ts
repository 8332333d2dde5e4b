// Names that cross the boundary as bytes (host/core/names.ts): the cached decoder gives the
// strings Buffer's toString('utf8') gives, for any bytes, and splits at the last NUL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nameOf, splitNames } from '../../host/core/names.js';

/** What node:net's own decoding gives: UTF-8 with replacement characters, split at the last NUL. */
function expected(b: Buffer): [string, string] {
  const i = b.lastIndexOf(0);
  return i < 0 ? [b.toString('utf8'), ''] : [b.toString('utf8', 0, i), b.toString('utf8', i + 1)];
}

test('names: fixed cases decode and split as Buffer does', () => {
  const cases = [
    Buffer.from('127.0.0.1\0::1'),
    Buffer.from('\0abstract\0name\0/tmp/peer.sock'), // an abstract name keeps its NULs
    Buffer.from([0x2f, 0x74, 0xe9, 0xff, 0xfe]), // not UTF-8: replacement characters
    Buffer.from(`${'a'.repeat(100)}\0héllo`), // longer than the cache keeps
    Buffer.from([0x41, 0xc3, 0x28, 0, 0xe2, 0x82]), // broken sequences on both sides
    Buffer.alloc(0),
    Buffer.from('\0'),
  ];
  for (const b of cases) assert.deepEqual(splitNames(b), expected(b), JSON.stringify([...b]));
  assert.deepEqual(splitNames(null), ['', '']);
});

test('names: random bytes decode as Buffer does, cached or not', () => {
  let seed = 12345;
  const next = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  // A small alphabet makes the same names come back (cache hits) and different names collide in
  // a slot (misses that must not return the slot's other string).
  const alphabet = [0x31, 0x32, 0x2e, 0x3a, 0x61, 0x00];
  for (let k = 0; k < 50_000; k++) {
    const n = Math.floor(next() * 72);
    const b = Buffer.alloc(n);
    for (let j = 0; j < n; j++) {
      const r = next();
      b[j] = r < 0.85 ? alphabet[Math.floor(next() * alphabet.length)] : Math.floor(next() * 256);
    }
    assert.deepEqual(splitNames(b), expected(b), JSON.stringify([...b]));
  }
});

test('names: the same bytes give the same string; a different name in the same slot is not mistaken for it', () => {
  const a = Buffer.from('10.0.0.1');
  assert.equal(nameOf(a, 0, a.length), '10.0.0.1');
  assert.equal(nameOf(Buffer.from('x10.0.0.1'), 1, 9), '10.0.0.1', 'an offset into a larger buffer');
  // Every two-byte ASCII name: 9,025 names through 128 slots, each checked against its bytes.
  for (let x = 0x20; x < 0x7f; x++) {
    for (let y = 0x20; y < 0x7f; y++) {
      const s = String.fromCharCode(x, y);
      assert.equal(nameOf(Buffer.from([x, y]), 0, 2), s);
    }
  }
});
