// The policy of createStack({ policy }) on real sockets: a refused connect or listen looks like
// the OS refusing it (EACCES with errno, syscall, address, port, in a failed connect's place in
// the event order) and nothing reaches the network — a node:net listener on the refused port
// sees no connection, no Unix socket file is made. Allowed rules work. (The sim: sandbox-sim.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir, constants } from 'node:os';
import { join } from 'node:path';
import { createStack } from '../../host/index.js';

const EACCES = -constants.errno.EACCES;
const EVENTS = ['lookup', 'connectionAttempt', 'connectionAttemptFailed', 'connect', 'error', 'close'];

/** The events of a client socket until 'close', names only; and its error. */
async function run(sock: nodeNet.Socket): Promise<{ events: string[]; error: any }> {
  const events: string[] = [];
  let error: any = null;
  for (const e of EVENTS) sock.on(e, (x: any) => { events.push(e); if (e === 'error') error = x; });
  await new Promise((r) => sock.once('close', r));
  return { events, error };
}

/** A node:net server that counts the connections it gets. */
async function witness(host = '127.0.0.1'): Promise<{ port: number; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const srv = nodeNet.createServer((s) => { n++; s.destroy(); });
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  return {
    port: (srv.address() as nodeNet.AddressInfo).port,
    count: () => n,
    close: () => new Promise((r) => srv.close(() => r())),
  };
}

async function connects(net: ReturnType<typeof createStack>, opts: nodeNet.NetConnectOpts): Promise<boolean> {
  const c = net.connect(opts);
  const r = await Promise.race([
    new Promise<boolean>((res) => c.once('connect', () => res(true))),
    new Promise<boolean>((res) => c.once('error', () => res(false))),
  ]);
  c.destroy();
  return r;
}

test('a refused connect is EACCES in the place of a failed connect, and the peer sees nothing', { timeout: 20000 }, async () => {
  const w = await witness();
  const net = createStack({ policy: { connect: ['10.0.0.0/8:80'] } });
  const ours = await run(net.connect(w.port, '127.0.0.1'));
  // node:net's own failed connect (a closed port) gives the order to match.
  const closed = await witness();
  await closed.close();
  const theirs = await run(nodeNet.connect(closed.port, '127.0.0.1'));
  assert.deepEqual(ours.events, theirs.events);
  assert.equal(ours.error.code, 'EACCES');
  assert.equal(ours.error.errno, EACCES);
  assert.equal(ours.error.syscall, 'connect');
  assert.equal(ours.error.address, '127.0.0.1');
  assert.equal(ours.error.port, w.port);
  assert.equal(ours.error.message, `connect EACCES 127.0.0.1:${w.port}`);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(w.count(), 0, 'the refused port saw no connection');
  assert.equal(net.usage().refused, 1);
  await w.close();
});

test('every HOST form: IPv4, CIDR, [IPv6], IPv6 CIDR, *, and every PORTS form', { timeout: 30000 }, async () => {
  const w = await witness('::');
  const p = w.port;
  const cases: [string[], nodeNet.NetConnectOpts, boolean][] = [
    [[`127.0.0.1:${p}`], { port: p, host: '127.0.0.1' }, true],
    [[`127.0.0.2:${p}`], { port: p, host: '127.0.0.1' }, false],
    [[`127.0.0.0/8:${p}`], { port: p, host: '127.0.0.1' }, true],
    [[`127.0.0.0/31:${p}`], { port: p, host: '127.0.0.1' }, true],
    [[`128.0.0.0/1:${p}`], { port: p, host: '127.0.0.1' }, false],
    [[`127.0.0.1:${p - 1}-${p + 1}`], { port: p, host: '127.0.0.1' }, true],
    [[`127.0.0.1:${p + 1}-${p + 9}`], { port: p, host: '127.0.0.1' }, false],
    [['127.0.0.1:*'], { port: p, host: '127.0.0.1' }, true],
    [[`*:${p}`], { port: p, host: '127.0.0.1' }, true],
    [['*:1-2'], { port: p, host: '127.0.0.1' }, false],
    [['[::1]:*'], { port: p, host: '::1' }, true],
    [['[::1]:*'], { port: p, host: '127.0.0.1' }, false],
    [[`[::]/0:${p}`], { port: p, host: '::1' }, true],
    [[`[fe80::]/10:${p}`], { port: p, host: '::1' }, false],
    // An IPv4-mapped IPv6 address matches as IPv4, both ways round.
    [[`[::ffff:127.0.0.1]:${p}`], { port: p, host: '127.0.0.1' }, true],
    [[`127.0.0.1:${p}`], { port: p, host: '::ffff:127.0.0.1' }, true],
    [[], { port: p, host: '127.0.0.1' }, false], // an empty list allows nothing
  ];
  for (const [rules, opts, allowed] of cases) {
    const net = createStack({ policy: { connect: rules } });
    assert.equal(await connects(net, opts), allowed, `${JSON.stringify(rules)} -> ${JSON.stringify(opts)}`);
  }
  assert.equal(await connects(createStack({ policy: {} }), { port: p, host: '127.0.0.1' }), false, 'an empty policy allows nothing');
  assert.equal(await connects(createStack({}), { port: p, host: '127.0.0.1' }), true, 'no policy allows everything');
  await w.close();
});

test('a name rule allows the lookup, and every address it gives is checked again (DNS rebinding)', { timeout: 20000 }, async () => {
  const w = await witness();
  const p = w.port;
  // 'localhost' resolves to loopback: the name alone does not open loopback.
  const nameOnly = createStack({ policy: { connect: [`LocalHost:${p}`] } });
  const c = nameOnly.connect({ port: p, host: 'localhost', family: 4 });
  const r = await run(c);
  assert.equal(r.error.code, 'EACCES');
  assert.equal(r.error.address, '127.0.0.1');
  assert.ok(r.events.includes('lookup'), 'the name was allowed: the lookup ran');
  const both = createStack({ policy: { connect: [`localhost:${p}`, `127.0.0.1:${p}`] } });
  assert.equal(await connects(both, { port: p, host: 'localhost', family: 4 }), true);
  // A name no rule allows is refused before any lookup.
  const other = createStack({ policy: { connect: [`127.0.0.1:${p}`] } });
  const r2 = await run(other.connect({ port: p, host: 'localhost' }));
  assert.equal(r2.error.code, 'EACCES');
  assert.equal(r2.error.syscall, 'connect');
  assert.equal(r2.error.address, 'localhost');
  assert.equal(r2.error.port, p);
  assert.ok(!r2.events.includes('lookup'), 'no lookup for a refused name');
  // *.suffix, with a lookup that answers loopback for any name.
  const lookup = (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
  const suffix = createStack({ policy: { connect: [`*.example.com:${p}`, `127.0.0.0/8:${p}`] } });
  assert.equal(await connects(suffix, { port: p, host: 'api.Example.com', lookup } as never), true);
  assert.equal(await connects(suffix, { port: p, host: 'example.com', lookup } as never), false, 'the suffix needs a label before it');
  assert.equal(await connects(suffix, { port: p, host: 'api.example.com.evil', lookup } as never), false);
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(w.count(), 2, 'only the allowed connects arrived');
  await w.close();
});

test('listen: refused is EACCES with syscall listen, address and port, and nothing is bound', { timeout: 20000 }, async () => {
  const free = await witness();
  await free.close(); // a port nobody holds now
  const net = createStack({ policy: { listen: ['127.0.0.1:8000-8099'] } });
  const srv = net.createServer();
  const err: any = await new Promise((r) => { srv.on('error', r); srv.listen(free.port, '127.0.0.1'); });
  assert.equal(err.code, 'EACCES');
  assert.equal(err.errno, EACCES);
  assert.equal(err.syscall, 'listen');
  assert.equal(err.address, '127.0.0.1');
  assert.equal(err.port, free.port);
  assert.equal(err.message, `listen EACCES: permission denied 127.0.0.1:${free.port}`);
  assert.equal(srv.listening, false);
  // Nothing was bound: node:net can take the port.
  const probe = nodeNet.createServer();
  await new Promise<void>((r, j) => { probe.once('error', j); probe.listen(free.port, '127.0.0.1', () => r()); });
  await new Promise((r) => probe.close(r));
  // Port 0 needs a rule that allows every port of the address.
  const err0: any = await new Promise((r) => { const s = net.createServer(); s.on('error', r); s.listen(0, '127.0.0.1'); });
  assert.equal(err0.code, 'EACCES');
  const any = createStack({ policy: { listen: ['127.0.0.1:*'] } });
  const s1 = any.createServer();
  await new Promise<void>((r) => s1.listen(0, '127.0.0.1', () => r()));
  assert.ok((s1.address() as nodeNet.AddressInfo).port > 0);
  await new Promise((r) => s1.close(r));
  // An IPv6 rule, and no address (the transport binds '::').
  const v6 = createStack({ policy: { listen: ['[::]:*'] } });
  const s2 = v6.createServer();
  await new Promise<void>((r) => s2.listen(0, () => r()));
  await new Promise((r) => s2.close(r));
});

test('listen on a name: the address and port the transport bound are checked again', { timeout: 20000 }, async () => {
  // The name 'localhost' is allowed on every port; the address it binds (127.0.0.1) on no port.
  const net = createStack({ policy: { listen: ['localhost:*'] } });
  const srv = net.createServer();
  let listening = false;
  srv.on('listening', () => { listening = true; });
  const err: any = await new Promise((r) => { srv.on('error', r); srv.listen({ port: 0, host: 'localhost', ipv6Only: false }); });
  assert.equal(err.code, 'EACCES');
  assert.equal(err.syscall, 'listen');
  assert.ok(err.port > 0, 'the error names the port the transport picked');
  assert.equal(listening, false);
  // The listener was closed before anyone could connect.
  const refused: any = await new Promise((r) => {
    const c = nodeNet.connect(err.port, err.address);
    c.on('error', r);
    c.on('connect', () => { c.destroy(); r(null); });
  });
  assert.equal(refused?.code, 'ECONNREFUSED');
});

test('IPC: path prefixes after normalisation; a refused path makes no socket file', { timeout: 20000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbx-'));
  const inside = join(dir, 'ok');
  const net = createStack({ policy: { ipc: [`${dir}/ok/`] } });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(inside);
  mkdirSync(join(dir, 'no'));
  const good = join(inside, 's.sock');
  const srv = net.createServer((s) => { s.on('error', () => {}); s.end('hi'); });
  await new Promise<void>((r) => srv.listen(good, () => r()));
  const got = await new Promise<string>((r) => { let t = ''; net.connect(good).on('data', (d) => { t += d; }).on('end', () => r(t)); });
  assert.equal(got, 'hi');
  // Normalised: '//' and '.' are fine; '..' out of the prefix is not.
  assert.equal(await connects(net, { path: `${dir}//ok/./s.sock` }), true);
  const escape = `${dir}/ok/../no/s.sock`;
  const s2 = net.createServer();
  const lerr: any = await new Promise((r) => { s2.on('error', r); s2.listen(escape); });
  assert.equal(lerr.code, 'EACCES');
  assert.equal(lerr.syscall, 'listen');
  assert.equal(existsSync(join(dir, 'no', 's.sock')), false, 'no socket file was made');
  const cerr = await run(net.connect(escape));
  assert.equal(cerr.error.code, 'EACCES');
  assert.equal(cerr.error.syscall, 'connect');
  // '/ok' is not '/ok2': a prefix ends at a path component.
  assert.equal(await connects(net, { path: `${dir}/ok2.sock` }), false);
  // An abstract name needs a rule that starts with NUL.
  if (process.platform === 'linux') {
    const abs = await run(net.connect('\0sbx-abstract'));
    assert.equal(abs.error.code, 'EACCES');
    const ok = createStack({ policy: { ipc: ['\0sbx-'] } });
    const s3 = ok.createServer((s) => { s.on('error', () => {}); s.end(); });
    await new Promise<void>((r) => s3.listen(`\0sbx-${process.pid}`, () => r()));
    assert.equal(await connects(ok, { path: `\0sbx-${process.pid}` }), true);
    await new Promise((r) => s3.close(r));
  }
  await new Promise((r) => srv.close(r));
});

test('fd: false refuses new Socket({ fd }) and listen({ fd }) with EACCES', { timeout: 20000 }, async () => {
  const net = createStack({ policy: { connect: ['*:*'] } });
  assert.throws(() => new net.Socket({ fd: 0 }), (e: any) => e.code === 'EACCES' && e.errno === EACCES && e.syscall === 'open');
  const srv = net.createServer();
  const err: any = await new Promise((r) => { srv.on('error', r); srv.listen({ fd: 0 }); });
  assert.equal(err.code, 'EACCES');
  assert.equal(err.syscall, 'listen');
  assert.equal(net.usage().refused, 2);
});

test('a bad rule throws ERR_INVALID_ARG_VALUE naming it', () => {
  for (const rule of ['127.0.0.1', '127.0.0.1:70000', '127.0.0.1:9-3', '::1:80', '10.0.0.0/33:80', 'bad host:80', '*.:80']) {
    assert.throws(() => createStack({ policy: { connect: [rule] } }), (e: any) => e.code === 'ERR_INVALID_ARG_VALUE' && /options\.policy\.connect\[0\]/.test(e.message), rule);
  }
  assert.throws(() => createStack({ policy: { connect: [1 as never] } }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => createStack({ policy: { fd: 'no' as never } }), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('refused connects, listens and opens send no command at all to the transport (trace of a real stack)', { timeout: 20000 }, async () => {
  const { readFileSync } = await import('node:fs');
  const { Op } = await import('../../host/core/abi.js');
  const dir = mkdtempSync(join(tmpdir(), 'sbx-trace-'));
  const file = join(dir, 'refused.trace');
  // Format 1 keeps every output (format 2 keeps a digest): the commands can be read back.
  const net = createStack({ record: { path: file, version: 1 }, policy: { connect: ['10.0.0.0/8:80'], listen: ['10.0.0.1:80'] } });
  await run(net.connect(9, '127.0.0.1'));
  await run(net.connect({ port: 9, host: 'localhost' }));
  await run(net.connect(join(dir, 'x.sock')));
  await new Promise((r) => { const s = net.createServer(); s.on('error', r); s.listen(0, '127.0.0.1'); });
  await new Promise((r) => { const s = net.createServer(); s.on('error', r); s.listen(join(dir, 'y.sock')); });
  assert.throws(() => new net.Socket({ fd: 0 }), { code: 'EACCES' });
  await net.recorder!.close();
  const commands = new Set<number>();
  for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
    if (!line) continue;
    for (const o of (JSON.parse(line).out ?? []) as number[][]) if (o[0] !== Op.CMD_TIMER) commands.add(o[0]);
  }
  for (const op of [Op.CMD_CONNECT, Op.CMD_LISTEN, Op.CMD_OPEN, Op.CMD_CLOSE, Op.CMD_RESOLVE]) {
    assert.equal(commands.has(op), false, `op ${op} reached the transport`);
  }
  assert.equal(existsSync(join(dir, 'y.sock')), false);
  assert.equal(net.usage().refused, 6);
});
