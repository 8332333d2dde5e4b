// net.isIP / isIPv4 / isIPv6: wasinet's answers against node:net's, on a fixed list of edge
// cases, on non-string inputs, and on 200,000+ random strings built from IP-ish fragments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import wasinet from '../../host/index.js';
import { libs } from './helpers.js';

type Fn = 'isIP' | 'isIPv4' | 'isIPv6';
const FNS: Fn[] = ['isIP', 'isIPv4', 'isIPv6'];

/** A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EDGE = [
  '', ' ', '0', '1', '.', ':', '::', ':::', '::::', '%', '::%', '::%eth0', '::1%', '::1%%', '::1%a%b', '::1%eth0', '::1%1',
  '::1%en0:1.2', '::1%a-b.c:d', '::1%a_b', '::1%a b', '::1% ',
  '0.0.0.0', '255.255.255.255', '256.0.0.0', '1.2.3', '1.2.3.4.5', '1.2.3.', '.1.2.3', '1..2.3', '01.2.3.4', '1.02.3.4', '00.0.0.0',
  '1.2.3.04', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.4\n', '\t1.2.3.4', '1.2.3.4\0', '1.2.3.-4', '1.2.3.+4', '1.2.3.0x4', '1e1.2.3.4',
  '127.0.0.1', '192.168.0.255', '249.250.251.252', '199.200.201.202', '1.2.3.256', '１.２.３.４', '١.٢.٣.٤',
  '::1', '1::', '1::1', '::ffff:1.2.3.4', '::ffff:1.2.3.256', '::ffff:01.2.3.4', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6::8', '1::3:4:5:6:7:8', '1:2:3:4:5:6:7', '1:2:3:4:5:6:1.2.3.4',
  '1:2:3:4:5::1.2.3.4', '1:2:3:4:5:6::1.2.3.4', '::1:2:3:4:5:1.2.3.4', '::1:2:3:4:5:6:1.2.3.4', '1.2.3.4::', '1.2.3.4::1',
  '::1.2.3.4', ':1.2.3.4', '1::1.2.3.4:5', '12345::', '1234::', 'abcd::', 'ABCD::', 'aBcD::EfFf', 'g::', 'G::', 'fffff::',
  '0:0:0:0:0:0:0:0', '00000::', '::0000', ':1::', '1::2::3', '1:::2', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:', 'fe80::1%lo0',
  'fe80::1%25', '[::1]', '::1]', '[::1', '::1/128', '1.2.3.4/32', '2001:db8::', '2001:0db8:0000:0000:0000:ff00:0042:8329',
  '::ffff:1.2.3.4%eth0', '1:2:3:4:5:6:7:8%eth0', '::\n', '\n::', ':: ', '\u00a0::', '::\u2028', 'localhost', 'example.com',
  '\u0010::', '\u0011\u0012::', '::\u0019', '\u0010\u0010\u0010\u0010::', '1:\u0013::', '::\u0041', '::\u0061', '::\u0046\u0066',
  '::@', '::`', '::G', '::g', '::/', '::;', '::\u0100', '::\u0130', '::\u0230',
];

const NON_STRINGS: unknown[] = [
  0, 1, 4, 6, 127.001, -1, NaN, Infinity, 1e21, 0x7f000001, 10n, true, false, null, undefined, {}, [], [1, 2, 3, 4],
  ['1.2.3.4'], ['::1'], [['1.2.3.4']], ['1', '2'], { toString: () => '1.2.3.4' }, { toString: () => '::1' },
  { valueOf: () => '1.2.3.4' }, { [Symbol.toPrimitive]: () => '::1' }, new String('1.2.3.4'), () => '1.2.3.4',
  /1.2.3.4/, new Date(0), Object.create(null), { toString: () => { throw new RangeError('from toString'); } },
  { toString: () => 1234 }, { toString: () => ({}) }, Symbol('1.2.3.4'), Symbol.iterator,
];

/** Builds a random IP-ish string from fragments. */
function randomCandidate(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const int = (n: number) => Math.floor(r() * n);
  const hex = '0123456789abcdefABCDEFgG';
  const frag: (() => string)[] = [
    () => String(int(300)),
    () => String(int(256)),
    () => '0'.repeat(1 + int(3)) + String(int(256)),
    () => String(int(10)),
    () => Array.from({ length: 1 + int(5) }, () => pick([...hex])).join(''),
    () => int(0x10000).toString(16),
    () => int(0x10000).toString(16).toUpperCase(),
    () => ':',
    () => '::',
    () => ':::',
    () => '.',
    () => '%',
    () => '%' + pick(['eth0', 'lo', '1', 'en0', 'a-b', 'x.y', 'a:b', '', ' ', 'é', '_', '25']),
    () => pick([' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u2028', '\ufeff']),
    () => `${int(256)}.${int(256)}.${int(256)}.${int(256)}`,
    () => `${int(300)}.${int(300)}.${int(300)}`,
    () => `::ffff:${int(256)}.${int(256)}.${int(256)}.${int(256)}`,
    () => String.fromCharCode(int(128)),
    () => String.fromCharCode(int(0x3000)),
    () => pick(['[', ']', '/', '-', '+', 'x', '0x', 'e', '１', '٣', 'ff', 'FFFF', 'fffff', '00000']),
  ];
  const shape = int(4);
  if (shape === 0) {
    // A well-formed-looking IPv6 with mutations.
    const groups = Array.from({ length: 1 + int(9) }, () => (r() < 0.1 ? '' : int(0x10000).toString(16)));
    let s = groups.join(':');
    if (r() < 0.4) { const at = int(s.length + 1); s = s.slice(0, at) + '::' + s.slice(at); }
    if (r() < 0.3) s += `:${int(300)}.${int(256)}.${int(256)}.${int(256)}`;
    if (r() < 0.2) s += '%' + pick(['eth0', '1', 'a.b:c', '', '%']);
    if (r() < 0.2) { const at = int(s.length + 1); s = s.slice(0, at) + frag[int(frag.length)]() + s.slice(at + int(2)); }
    return s;
  }
  if (shape === 1) {
    // A dotted quad with mutations.
    const parts = Array.from({ length: 3 + int(3) }, () => (r() < 0.15 ? '0' + int(100) : String(int(r() < 0.9 ? 256 : 1000))));
    let s = parts.join('.');
    if (r() < 0.25) { const at = int(s.length + 1); s = s.slice(0, at) + frag[int(frag.length)]() + s.slice(at + int(2)); }
    return s;
  }
  const n = 1 + int(12);
  let s = '';
  for (let i = 0; i < n; i++) s += frag[int(frag.length)]();
  return s;
}

function answer(lib: Record<Fn, (x: unknown) => unknown>, fn: Fn, input: unknown): string {
  try {
    return `=${String(lib[fn](input))}`;
  } catch (e) {
    return `throws ${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}

const W = wasinet as unknown as Record<Fn, (x: unknown) => unknown>;
const N = nodeNet as unknown as Record<Fn, (x: unknown) => unknown>;

test('isIP/isIPv4/isIPv6: wasinet answers like node:net on a fixed list of edge cases', { timeout: 10000 }, () => {
  const diffs: string[] = [];
  for (const input of EDGE) {
    for (const fn of FNS) {
      const want = answer(N, fn, input);
      const got = answer(W, fn, input);
      if (want !== got) diffs.push(`${fn}(${JSON.stringify(input)}): node:net ${want}, wasinet ${got}`);
    }
  }
  assert.deepEqual(diffs, []);
});

test('isIP/isIPv4/isIPv6: wasinet answers like node:net on non-string inputs (a Symbol throws the same TypeError)',
  { timeout: 10000 }, () => {
    const diffs: string[] = [];
    for (const input of NON_STRINGS) {
      for (const fn of FNS) {
        const want = answer(N, fn, input);
        const got = answer(W, fn, input);
        if (want !== got) diffs.push(`${fn}(${typeof input === 'symbol' ? String(input) : typeof input}): node:net ${want}, wasinet ${got}`);
      }
    }
    assert.deepEqual(diffs, []);
    assert.throws(() => wasinet.isIP(Symbol('x') as never), (e: Error) => {
      assert.ok(e instanceof TypeError);
      assert.equal(e.message, 'Cannot convert a Symbol value to a string');
      return true;
    });
  });

test('isIP/isIPv4/isIPv6: wasinet answers like node:net on 200,000 random IP-ish strings', { timeout: 60000 }, () => {
  const seed = 20240917;
  const r = rng(seed);
  const COUNT = 200000;
  const diffs: string[] = [];
  let valid4 = 0;
  let valid6 = 0;
  for (let i = 0; i < COUNT; i++) {
    const s = randomCandidate(r);
    for (const fn of FNS) {
      const want = answer(N, fn, s);
      const got = answer(W, fn, s);
      if (want !== got && diffs.length < 20) diffs.push(`#${i} ${fn}(${JSON.stringify(s)}): node:net ${want}, wasinet ${got}`);
    }
    const kind = nodeNet.isIP(s);
    if (kind === 4) valid4++;
    if (kind === 6) valid6++;
  }
  // The generator must produce enough of both kinds for the comparison to mean something.
  assert.ok(valid4 > 2000, `${valid4} valid IPv4 strings`);
  assert.ok(valid6 > 2000, `${valid6} valid IPv6 strings`);
  assert.deepEqual(diffs, [], `seed ${seed}`);
});

for (const [lib, net] of libs) {
  test(`${lib}: isIP/isIPv4/isIPv6 answer 4, 6 or 0 for known addresses`, { timeout: 5000 }, () => {
    assert.equal(net.isIP('127.0.0.1'), 4);
    assert.equal(net.isIP('::1'), 6);
    assert.equal(net.isIP('fe80::1%eth0'), 6);
    assert.equal(net.isIP('::ffff:192.168.0.1'), 6);
    assert.equal(net.isIP('01.2.3.4'), 0);
    assert.equal(net.isIP('1.2.3.4 '), 0);
    assert.equal(net.isIP('1::2::3'), 0);
    assert.equal(net.isIP('\u0010::'), 0);
    assert.equal(net.isIPv4('1.2.3.4'), true);
    assert.equal(net.isIPv4('::1'), false);
    assert.equal(net.isIPv6('::1'), true);
    assert.equal(net.isIPv6('1.2.3.4'), false);
    assert.equal(net.isIP({ toString: () => '1.2.3.4' } as never), 4);
    assert.throws(() => net.isIP(Symbol('s') as never), TypeError);
  });
}
