// Containment and traces: a stack driven past its coreMemory traps, and that trap fails only
// that stack's sockets — another stack (real sockets) keeps working and the process lives on;
// the policy and limits are inputs, so a recorded trace replays every decision, and a change to
// a recorded decision is a divergence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import nodeNet from 'node:net';
import { createStack, replay, readTrace, SimNetwork } from '../../host/index.js';
import { sockPath } from './helpers.js';

async function echoRoundTrip(net: ReturnType<typeof createStack>, port: number, text: string): Promise<string> {
  const c = net.connect(port, '127.0.0.1');
  c.on('error', (e) => { throw e; });
  let got = '';
  c.on('data', (d) => { got += d; });
  await new Promise((r) => c.once('connect', r));
  c.end(text);
  await new Promise((r) => c.once('close', r));
  return got;
}

test('coreMemory: one stack traps past it; another stack and the process keep working', { timeout: 30000 }, async () => {
  // B: real sockets, an echo server and client on their own stack.
  const b = createStack();
  const echo = b.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const port = (echo.address() as nodeNet.AddressInfo).port;
  assert.equal(await echoRoundTrip(b, port, 'before'), 'before');
  const bClient = b.connect(port, '127.0.0.1');
  const bErrors: Error[] = [];
  bClient.on('error', (e) => bErrors.push(e));
  await new Promise((r) => bClient.once('connect', r));

  // A: a sim stack whose transport takes one byte at a time, so writes wait in the core's
  // queues and its memory grows past coreMemory.
  const network = new SimNetwork({ seed: 2, sndbuf: 1 });
  const peer = createStack({ backend: 'sim', network });
  const sink = peer.createServer((s) => { s.on('error', () => {}); s.pause(); });
  await new Promise<void>((r) => sink.listen(9000, '127.0.0.1', () => r()));
  const a = createStack({ backend: 'sim', network, limits: { coreMemory: 512 * 1024 } });
  const start = a.usage().coreMemory;
  assert.ok(start.used < start.limit, `the core starts below the limit (${start.used})`);
  const errors: Error[] = [];
  const socks = Array.from({ length: 8 }, () => a.connect(9000, '127.0.0.1'));
  socks.forEach((s) => s.on('error', (e) => errors.push(e)));
  await Promise.all(socks.map((s) => new Promise((r) => s.once('connect', r))));
  const closed = Promise.all(socks.map((s) => new Promise((r) => s.once('close', r))));
  for (const s of socks) s.write(Buffer.alloc(60000, 1));
  await closed;
  assert.equal(errors.length, socks.length, 'every socket of the trapped stack failed');
  for (const e of errors) {
    assert.equal(e.name, 'CoreTrap');
    assert.match(e.message, /core memory limit exceeded: \d+ bytes > coreMemory 524288/);
  }

  // B never noticed; its open connection still carries bytes.
  assert.equal(await echoRoundTrip(b, port, 'after'), 'after');
  bClient.write('still');
  const got = await new Promise<string>((r) => bClient.once('data', (d) => r(String(d))));
  assert.equal(got, 'still');
  assert.deepEqual(bErrors, []);
  // A serves again with a fresh core (under the same limit).
  const again = a.connect(9000, '127.0.0.1');
  await new Promise((r) => again.once('connect', r));
  again.destroy();
  bClient.destroy();
  await new Promise((r) => echo.close(r));
});

test('coreMemory on real sockets: a stack that keeps opening connections traps at the limit; the peer is unharmed', { timeout: 60000 }, async () => {
  const held: nodeNet.Socket[] = [];
  const peer = nodeNet.createServer((s) => { held.push(s); s.on('error', () => {}); });
  await new Promise<void>((r) => peer.listen(0, '127.0.0.1', () => r()));
  const port = (peer.address() as nodeNet.AddressInfo).port;
  const start = createStack().usage().coreMemory.used;
  const net = createStack({ limits: { coreMemory: start + 64 * 1024 } });
  const errors: Error[] = [];
  let trapped = false;
  for (let i = 0; i < 3000 && !trapped; i++) {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', (e) => { errors.push(e); if (e.name === 'CoreTrap') trapped = true; });
    await new Promise((r) => { c.once('connect', r); c.once('close', r); });
  }
  await new Promise((r) => setImmediate(r));
  assert.ok(trapped, 'the stack trapped');
  assert.match(errors.find((e) => e.name === 'CoreTrap')!.message, /core memory limit exceeded/);
  assert.ok(errors.every((e) => e.name === 'CoreTrap'), 'every error is the trap');
  // The node:net peer still serves.
  const probe = nodeNet.connect(port, '127.0.0.1');
  await new Promise((r) => probe.once('connect', r));
  probe.destroy();
  held.forEach((s) => s.destroy());
  await new Promise((r) => peer.close(r));
});

test('a trace records the policy and limits; replay re-makes each decision and notices a changed one', { timeout: 30000 }, async () => {
  const file = sockPath('policy').replace(/\.sock$/, '.trace');
  const free = nodeNet.createServer((s) => s.end('ok'));
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
  const port = (free.address() as nodeNet.AddressInfo).port;
  // Format 1 (JSON lines), so that the test can edit the recorded policy; format 2 below.
  const net = createStack({ record: { path: file, version: 1 }, policy: { connect: [`127.0.0.1:${port}`] }, limits: { sockets: 5 } });
  assert.equal(await echoRoundTrip(net, port, ''), 'ok');
  const refused = net.connect(port + 1 === 65536 ? 1 : port + 1, '127.0.0.1');
  const err: any = await new Promise((r) => refused.once('error', r));
  assert.equal(err.code, 'EACCES');
  await new Promise((r) => refused.once('close', r));
  await net.recorder!.close();
  // The same in trace format 2 (the default): the sandbox's inputs replay, decisions included.
  const file2 = file.replace(/\.trace$/, '-v2.trace');
  const net2 = createStack({ record: file2, policy: { connect: [`127.0.0.1:${port}`] }, limits: { sockets: 5 } });
  assert.equal(await echoRoundTrip(net2, port, ''), 'ok');
  const refused2 = net2.connect(port + 1 === 65536 ? 1 : port + 1, '127.0.0.1');
  assert.equal(((await new Promise((r) => refused2.once('error', r))) as NodeJS.ErrnoException).code, 'EACCES');
  await new Promise((r) => refused2.once('close', r));
  await net2.recorder!.close();
  const ok2 = replay(file2);
  assert.equal(ok2.ok, true, JSON.stringify(ok2.divergence));
  await new Promise((r) => free.close(r));
  // Format 2 also names them in its header, as given; a header that says otherwise than the
  // inputs is reported at the input.
  const { header } = readTrace(file2);
  assert.deepEqual(header.policy, { connect: [`127.0.0.1:${port}`] });
  assert.deepEqual(header.limits, { sockets: 5 });
  for (const [key, value, what] of [['policy', { connect: [`127.0.0.1:${port + 1}`] }, 'policy'], ['limits', { sockets: 6 }, 'limits']] as const) {
    const bytes = readFileSync(file2);
    const len = bytes.readUInt32LE(12);
    const json = Buffer.from(JSON.stringify({ ...JSON.parse(bytes.subarray(16, 16 + len).toString()), [key]: value }));
    const head = Buffer.from(bytes.subarray(0, 16));
    head.writeUInt32LE(json.length, 12);
    const edited = file2.replace(/\.trace$/, `-${key}.trace`);
    writeFileSync(edited, Buffer.concat([head, json, bytes.subarray(16 + len)]));
    const d = replay(edited);
    assert.equal(d.ok, false, key);
    assert.equal(d.divergence!.what, what);
    assert.equal(d.divergence!.input, key === 'policy' ? 'apiPolicy' : 'apiLimits');
  }

  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  assert.ok(lines.some((l) => l.includes('"in":"apiPolicy"')), 'the policy is an input of the trace');
  assert.ok(lines.some((l) => l.includes('"in":"apiLimits"')), 'the limits are an input of the trace');
  const ok = replay({ text });
  assert.equal(ok.ok, true, JSON.stringify(ok.divergence));
  // Allow the refused port in the recorded policy: replay now decides differently.
  const i = lines.findIndex((l) => l.includes('"in":"apiPolicy"'));
  const line = JSON.parse(lines[i]);
  const table = Buffer.from(line.p, 'base64');
  table.writeUInt16LE(65535, 5); // the rule's highest port: every port from the allowed one up
  line.p = table.toString('base64');
  lines[i] = JSON.stringify(line);
  const changed = file.replace(/\.trace$/, '-changed.trace');
  writeFileSync(changed, lines.join('\n'));
  const r = replay(changed);
  assert.equal(r.ok, false);
  assert.ok(r.divergence!.line > i + 1, 'the divergence is a later decision, not the policy input itself');
  assert.ok(['outputs', 'result', 'digest'].includes(r.divergence!.what));
});
