// The module itself: what `import net from 'wasinet'` and `require('wasinet')` give, against
// node:net's own surface.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import nodeNet from 'node:net';
import wasinet, * as named from '../../host/index.js';

const require = createRequire(import.meta.url);
const net = wasinet as unknown as Record<string, any>;
const node = nodeNet as unknown as Record<string, any>;

/** node:net's exports that wasinet does not offer, with the reason (documented in the README). */
const NOT_OFFERED: Record<string, string> = {
  _createServerHandle: 'returns a libuv handle of Node\'s own; wasinet\'s handles live in its core',
};

test('the default export has every export of node:net, of the same kind (except the documented internal one)', () => {
  for (const key of Object.keys(node)) {
    if (key in NOT_OFFERED) continue;
    assert.ok(key in net, `missing ${key}`);
    assert.equal(typeof net[key], typeof node[key], key);
  }
  for (const key of Object.keys(net)) assert.ok(key in node, `wasinet exports ${key}, which node:net does not`);
});

test('the named ESM exports match the default export', () => {
  for (const key of ['Socket', 'Stream', 'Server', 'createServer', 'connect', 'createConnection', 'isIP', 'isIPv4',
    'isIPv6', 'BlockList', 'SocketAddress', 'getDefaultAutoSelectFamily', 'setDefaultAutoSelectFamily',
    'getDefaultAutoSelectFamilyAttemptTimeout', 'setDefaultAutoSelectFamilyAttemptTimeout', '_normalizeArgs',
    '_setSimultaneousAccepts']) {
    assert.equal((named as Record<string, unknown>)[key], net[key], key);
  }
});

test('require(\'wasinet\') gives the default export itself: a mutable object, as require(\'net\') is', () => {
  const required = require('wasinet') as unknown as Record<string, unknown>;
  assert.ok((required as unknown) === wasinet, 'the same object as the ES default export');
  assert.deepEqual(Object.keys(required).sort(), Object.keys(net).sort());
  // Test doubles replace net.connect in strict code: that must work, as on node:net.
  const connect = required.connect;
  try {
    required.connect = () => 'stub';
    assert.equal((required.connect as () => string)(), 'stub');
  } finally {
    required.connect = connect;
  }
  // wasinet's extras are there too, not enumerable.
  for (const extra of ['createStack', 'replay', 'SimNetwork']) {
    assert.equal(required[extra], (named as Record<string, unknown>)[extra], extra);
    assert.equal(Object.keys(required).includes(extra), false, extra);
  }
});

test('_normalizeArgs gives what node:net\'s gives, and Socket#connect takes its result', async () => {
  const f = () => {};
  const cases: unknown[][] = [[], [80], [80, 'h'], [80, 'h', f], ['/tmp/p'], ['/tmp/p', f], [{ port: 1 }], [{ path: 'x' }, f], [f], ['8080'], [{}, 1]];
  for (const args of cases) {
    const a = net._normalizeArgs(args);
    const b = node._normalizeArgs(args);
    assert.deepEqual([...a], [...b], JSON.stringify(args));
    assert.equal(Object.getOwnPropertySymbols(a).length, Object.getOwnPropertySymbols(b).length);
  }
  for (const lib of [net, node]) {
    const server = nodeNet.createServer((s) => s.end('hi'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socket = new lib.Socket();
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    socket.connect(lib._normalizeArgs([(server.address() as { port: number }).port, '127.0.0.1']));
    await new Promise((r) => socket.on('close', r));
    await new Promise((r) => server.close(r));
    assert.equal(Buffer.concat(got).toString(), 'hi');
  }
});

test('_setSimultaneousAccepts warns DEP0121 once per process, as node:net does', () => {
  const script = (lib: string) => `
    const net = require(${JSON.stringify(lib)}); const seen = [];
    process.on('warning', (w) => seen.push([w.name, w.code, w.message]));
    net._setSimultaneousAccepts(); net._setSimultaneousAccepts({});
    setImmediate(() => console.log(JSON.stringify(seen)));`;
  const run = (lib: string) => spawnSync(process.execPath, ['--no-warnings', '-e', script(lib)], { encoding: 'utf8' });
  const a = run(require.resolve('../../host/index.js'));
  const b = run('node:net');
  assert.equal(a.status, 0, a.stderr);
  assert.equal(b.stdout, a.stdout);
  assert.equal(JSON.parse(a.stdout).length, 1);
});

test('the core runs optimized from the start; Wasm the process compiles after it keeps V8\'s own tiering', () => {
  // %IsLiftoffFunction: is a Wasm function running baseline code (V8's test intrinsic).
  const script = `
    const isBaseline = new Function('f', 'return %IsLiftoffFunction(f)');
    const { instantiateCore } = await import(${JSON.stringify(new URL('../../host/core/wasm.js', import.meta.url).href)});
    const { exports } = instantiateCore(() => {});
    exports.abiVersion(); exports.liveSockets();
    // (module (func (export "f") (result i32) i32.const 7)), compiled after the core
    const user = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96,
      0, 1, 127, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 6, 1, 4, 0, 65, 7, 11])));
    user.exports.f();
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && isBaseline(exports.liveSockets)) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    console.log(JSON.stringify([isBaseline(exports.abiVersion), isBaseline(exports.liveSockets), isBaseline(user.exports.f)]));`;
  const run = (...flags: string[]) => {
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', ...flags, '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as boolean[];
  };
  // the core optimized; the user's function, called once, still baseline: dynamic tiering is back on
  assert.deepEqual(run(), [false, false, true]);
  // a process that turned dynamic tiering off itself keeps it off: everything is optimized eagerly
  assert.deepEqual(run('--no-wasm-dynamic-tiering'), [false, false, false]);
});

// What few programs use is loaded on first use (host/lazy.ts): importing wasinet and opening a
// connection loads neither the recorder (worker_threads, crypto), the trace readers' zlib, the
// simulated network's transport nor plugins; each loads, and works, when it is first asked for.
test('importing wasinet and using sockets loads no recorder, replayer, simulator transport or plugin code', () => {
  const index = new URL('../../host/index.js', import.meta.url).href;
  const script = `
    const before = new Set(process.moduleLoadList);
    const { default: net, createStack } = await import(${JSON.stringify(index)});
    const s = net.createServer((c) => c.end('hi')).listen(0, '127.0.0.1');
    await new Promise((r) => s.on('listening', r));
    const c = net.connect(s.address().port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => { got += d; });
    await new Promise((r) => c.on('close', r));
    s.close();
    const loaded = (names) => names.filter((n) => process.moduleLoadList.includes('NativeModule ' + n) && !before.has('NativeModule ' + n));
    console.log(JSON.stringify({ got, builtins: loaded(['worker_threads', 'zlib', 'crypto']) }));
    const sim = createStack({ backend: 'sim' });
    const srv = sim.createServer((x) => x.end('sim')).listen(80, '10.0.0.1');
    let simGot = '';
    sim.connect(80, '10.0.0.1').on('data', (d) => { simGot += d; });
    await sim.run();
    srv.close();
    console.log(JSON.stringify({ simGot, builtins: loaded(['worker_threads', 'zlib', 'crypto']) }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [plain, sim] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { got?: string; simGot?: string; builtins: string[] });
  assert.deepEqual(plain, { got: 'hi', builtins: [] });
  assert.deepEqual(sim, { simGot: 'sim', builtins: [] });
});
