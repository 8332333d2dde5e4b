// Argument checking, compared call by call: every API of the module called with odd values
// (wrong types, out of range, empty, symbols, BigInts…) on node:net and on wasinet; what each
// call does at once — returns, or throws with which class, code and message — must be the
// same. A second part compares the events that a few calls lead to (errors with their fields
// and messages). Values that make Node itself abort (a string `hints`, some `family` values)
// are left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { libs, sockPath } from './helpers.js';
import { createStack } from '../../host/index.js';

type AnyNet = Record<string, any>;

const VALUES: unknown[] = [undefined, null, true, false, 0, -0, -1, 1.5, NaN, Infinity, 65535, 65536, 2 ** 31,
  '80', '-1', ' 80 ', '0x10', '', 'abc', '::1', '127.0.0.1', {}, [], () => {}, Symbol('s'), 1n];

function show(v: unknown): string {
  if (typeof v === 'symbol') return 'Symbol';
  if (typeof v === 'function') return 'fn';
  if (typeof v === 'bigint') return `${v}n`;
  return inspect(v);
}

/** Runs every call on `net`; returns one line per call: what it did at once. */
function syncOutcomes(net: AnyNet, pipePath: (i: number) => string): string[] {
  const out: string[] = [];
  const cleanup: (() => void)[] = [];
  const own = (x: any) => {
    if (x && typeof x === 'object') {
      if (typeof x.destroy === 'function') { x.on?.('error', () => {}); cleanup.push(() => x.destroy()); }
      if (typeof x.listen === 'function') { x.on('error', () => {}); cleanup.push(() => { try { x.close(); } catch { /* not listening */ } }); }
    }
    return x;
  };
  const run = (label: string, fn: () => unknown) => {
    let r: string;
    try {
      const x = own(fn());
      r = typeof x === 'string' || typeof x === 'boolean' || typeof x === 'number' || x === undefined ? `ok ${String(x)}` : 'ok';
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      r = `${err?.constructor?.name} ${err?.code} ${err?.message}`;
    }
    out.push(`${label} => ${r}`);
  };
  const socket = () => own(new net.Socket());
  const P = 1; // a closed port
  VALUES.forEach((v, i) => {
    const s = show(v);
    run(`connect(${s})`, () => net.connect(v));
    run(`connect({port:${s}})`, () => net.connect({ port: v, host: '127.0.0.1' }));
    run(`connect(${s}, '127.0.0.1')`, () => net.connect(v, '127.0.0.1'));
    run(`connect(1, '127.0.0.1', ${s})`, () => net.connect(P, '127.0.0.1', v));
    run(`connect({host:${s}})`, () => net.connect({ port: P, host: v }));
    run(`connect({path:${s}})`, () => net.connect({ path: v }));
    run(`connect({localAddress:${s}})`, () => net.connect({ port: P, host: '127.0.0.1', localAddress: v }));
    run(`connect({localPort:${s}})`, () => net.connect({ port: P, host: '127.0.0.1', localPort: v }));
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 31) {
      run(`connect({hints:${s}})`, () => net.connect({ port: P, host: 'localhost', hints: v }));
    }
    run(`connect({lookup:${s}})`, () => net.connect({ port: P, host: 'localhost', lookup: v }));
    run(`connect({timeout:${s}})`, () => net.connect({ port: P, host: '127.0.0.1', timeout: v }));
    run(`connect({autoSelectFamily:${s}})`, () => net.connect({ port: P, host: '127.0.0.1', autoSelectFamily: v }));
    run(`connect({autoSelectFamilyAttemptTimeout:${s}})`, () => net.connect({ port: P, host: '127.0.0.1', autoSelectFamilyAttemptTimeout: v }));
    run(`connect({keepAliveInitialDelay:${s}})`, () => net.connect({ port: P, host: '127.0.0.1', keepAlive: true, keepAliveInitialDelay: v }));
    run(`connect({onread:${s}})`, () => net.connect({ port: P, host: '127.0.0.1', onread: v }));
    run(`connect({signal:${s}})`, () => net.connect({ port: P, host: '127.0.0.1', signal: v }));
    run(`new Socket(${s})`, () => new net.Socket(v));
    run(`new Socket({fd:${s}})`, () => new net.Socket({ fd: v }));
    run(`new Socket({allowHalfOpen:${s}})`, () => own(new net.Socket({ allowHalfOpen: v })).allowHalfOpen);
    run(`socket.setTimeout(${s})`, () => { socket().setTimeout(v); });
    run(`socket.setTimeout(1, ${s})`, () => { socket().setTimeout(1, v); });
    run(`socket.setNoDelay(${s})`, () => { socket().setNoDelay(v); });
    run(`socket.setKeepAlive(${s})`, () => { socket().setKeepAlive(v); });
    run(`socket.setKeepAlive(true, ${s})`, () => { socket().setKeepAlive(true, v); });
    run(`socket.setEncoding(${s})`, () => { socket().setEncoding(v); });
    run(`socket.write(${s})`, () => socket().write(v));
    run(`socket.write('x', ${s})`, () => socket().write('x', v));
    run(`socket.write('x', 'utf8', ${s})`, () => socket().write('x', 'utf8', v));
    run(`socket.end(${s})`, () => { socket().end(v); });
    run(`socket.destroy(${s})`, () => socket().destroy(v).destroyed);
    run(`socket.connect(${s})`, () => { socket().connect(v); });
    run(`createServer(${s})`, () => net.createServer(v));
    run(`new Server({}, ${s})`, () => new net.Server({}, v));
    run(`createServer({highWaterMark:${s}})`, () => net.createServer({ highWaterMark: v }));
    run(`createServer({keepAliveInitialDelay:${s}})`, () => net.createServer({ keepAliveInitialDelay: v }));
    run(`listen(${s})`, () => net.createServer().listen(v));
    run(`listen(0, ${s})`, () => net.createServer().listen(0, v));
    run(`listen(0, '127.0.0.1', ${s})`, () => net.createServer().listen(0, '127.0.0.1', v));
    run(`listen(path, ${s})`, () => net.createServer().listen(pipePath(i), v));
    run(`listen({port:${s}})`, () => net.createServer().listen({ port: v }));
    run(`listen({host:${s}})`, () => net.createServer().listen({ port: 0, host: v }));
    run(`listen({path:${s}})`, () => net.createServer().listen({ path: v }));
    run(`listen({backlog:${s}})`, () => net.createServer().listen({ port: 0, backlog: v }));
    run(`listen({signal:${s}})`, () => net.createServer().listen({ port: 0, signal: v }));
    run(`listen({fd:${s}})`, () => net.createServer().listen({ fd: v }));
    run(`listen({handle:${s}})`, () => net.createServer().listen({ handle: v }));
    run(`server.close(${s})`, () => { net.createServer().close(v); });
    run(`server.getConnections(${s})`, () => { net.createServer().getConnections(v); });
    run(`server.maxConnections = ${s}`, () => { const k = net.createServer(); k.maxConnections = v; return k.maxConnections; });
    run(`setDefaultAutoSelectFamilyAttemptTimeout(${s})`, () => net.setDefaultAutoSelectFamilyAttemptTimeout(v));
    run(`setDefaultAutoSelectFamily(${s})`, () => net.setDefaultAutoSelectFamily(v));
  });
  net.setDefaultAutoSelectFamily(true);
  net.setDefaultAutoSelectFamilyAttemptTimeout(250);
  for (const f of [() => net.connect(), () => new net.Socket().connect(), () => net.connect({}), () => net.connect({ host: 'x' }),
    () => net.createServer().listen({}), () => net.createServer().listen({ host: 'localhost' }), () => net.createServer().listen({ backlog: 5 })]) {
    run(String(f), f);
  }
  for (const f of cleanup) f();
  return out;
}

test('argument checking: about 1,300 calls with odd values do the same at once on node:net and on wasinet', () => {
  const [[, nodeNet], [, wasinet]] = libs;
  const expected = syncOutcomes(nodeNet as AnyNet, (i) => sockPath(`vn${i}`));
  const actual = syncOutcomes(wasinet as AnyNet, (i) => sockPath(`vw${i}`));
  assert.ok(expected.length > 1250, `${expected.length} calls`);
  assert.ok(expected.filter((l) => !l.includes('=> ok')).length > 300, 'many of them throw');
  assert.deepEqual(actual, expected);
});

/** The events that follow each call, with the error's fields, for a short while. */
async function eventOutcomes(net: AnyNet): Promise<string[]> {
  const lines: string[] = [];
  const fields = (e: NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string }) =>
    `${e.code} ${e.syscall ?? ''} ${e.address ?? ''} ${e.port ?? ''} ${e.hostname ?? ''} | ${e.message}`;
  const cases: [string, () => any][] = [];
  for (const v of ['', '127.0.0.1', '0.0.0.0', '::', '80', 'fe80::1', 'fe80::1%lo', '999.1.1.1']) {
    const s = inspect(v);
    cases.push([`connect({port:1, host:${s}})`, () => net.connect({ port: 1, host: v })]);
    cases.push([`listen({port:1, host:${s}})`, () => net.createServer().listen({ port: 1, host: v })]);
  }
  cases.push(['connect({port:1, host:"::1", localAddress:"127.0.0.1"})', () => net.connect({ port: 1, host: '::1', localAddress: '127.0.0.1' })]);
  cases.push(['listen({fd:2**31})', () => net.createServer().listen({ fd: 2 ** 31 })]);
  for (const [label, make] of cases) {
    const events: string[] = [];
    const obj = make();
    for (const ev of ['connect', 'listening', 'error', 'close', 'connectionAttempt', 'connectionAttemptFailed']) {
      obj.on(ev, (...a: any[]) => events.push(ev === 'error' ? `error(${fields(a[0])})`
        : ev.startsWith('connectionAttempt') ? `${ev}(${a[0]},${a[1]},${a[2]}${a[3] ? `,${a[3].message}` : ''})` : ev));
    }
    await new Promise((r) => setTimeout(r, 150));
    if (obj.destroy) obj.destroy(); else obj.close();
    lines.push(`${label} => ${events.join(' ')}`.replace(/:\d{4,5}\b/g, ':PORT'));
  }
  return lines;
}

test('the errors a few odd targets lead to (codes, fields, messages, attempt events) are node:net\'s', { timeout: 30000 }, async () => {
  const [[, nodeNet], [, wasinet]] = libs;
  const expected = await eventOutcomes(nodeNet as AnyNet);
  const actual = await eventOutcomes(wasinet as AnyNet);
  assert.ok(expected.some((l) => l.includes('error(')));
  assert.deepEqual(actual, expected);
});

test('argument checking on a sim stack is node:net\'s too (a file descriptor is the one thing a sim has not)', () => {
  const [[, nodeNet]] = libs;
  const expected = syncOutcomes(nodeNet as AnyNet, (i) => sockPath(`sn${i}`));
  const actual = syncOutcomes(createStack({ backend: 'sim', seed: 3 }) as unknown as AnyNet, (i) => `/sim/v${i}.sock`);
  assert.equal(actual.length, expected.length);
  let fdLines = 0;
  for (let i = 0; i < expected.length; i++) {
    // node:net opens what the descriptor is (or names its type); the sim refuses every descriptor.
    if (expected[i] !== actual[i] && /^new Socket\((\{fd:)?-?\d/.test(expected[i])) {
      assert.match(actual[i], /ERR_INVALID_FD_TYPE Unsupported fd type: sim network has no file descriptors/);
      fdLines++;
      continue;
    }
    assert.equal(actual[i], expected[i]);
  }
  assert.ok(fdLines <= 8, `${fdLines} fd lines differ`);
});
