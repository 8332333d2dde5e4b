// Containment: a guest that loops forever, traps, runs out of memory, calls an import with a bad
// pointer or handle, or exits, ends with a clear reason; the node:net peer connected to it sees
// its connection close; and the host process and another plugin keep running throughout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import net from 'node:net';
import { hashUntilEnd, patternHash, sendPattern, until } from './helpers.js';
import { guests, plugins, startListening, watch, type Started } from './plugin-util.js';
import { loadPlugin, type PluginExit } from '../../host/plugin/load.js';

const misbehave = join(guests, 'misbehave.wasm');
let bystander: Started;

before(async () => { bystander = await startListening(join(plugins, 'echo.wasm'), ['0']); });
after(async () => { await bystander.plugin.stop(); });

/** The bystander echo plugin still serves 64 KiB byte-exactly. */
async function bystanderServes(): Promise<void> {
  const c = net.connect(bystander.port, '127.0.0.1');
  const got = hashUntilEnd(c);
  await sendPattern(c, 3, 65536);
  assert.deepEqual(await got, { hash: patternHash(3, 65536), bytes: 65536 });
}

/** Starts misbehave in `mode`, sends it data from a node:net peer, returns how it ended once the peer saw close. */
async function provoke(mode: string, limits = {}): Promise<PluginExit> {
  const { plugin, port } = await startListening(misbehave, ['0', mode], { limits });
  const peer = watch(port);
  peer.socket.write('trigger');
  const result = await plugin.exited;
  await peer.closed;
  // The peer's connection closed (end or reset), and the plugin's listener is gone too.
  const late = watch(port);
  await late.closed;
  assert.equal(late.error(), 'ECONNREFUSED');
  await bystanderServes();
  return result;
}

test('a guest that loops forever in a callback is stopped by the cpuMs watchdog; its connection closes', { timeout: 30_000 }, async () => {
  const t0 = Date.now();
  const r = await provoke('loop', { cpuMs: 300 });
  assert.equal(r.reason, 'cpu');
  assert.equal(r.code, 1);
  assert.match(r.message, /more than 300 ms \(limits\.cpuMs\)/);
  assert.ok(Date.now() - t0 < 10_000);
});

test('a guest that traps ends with reason trap and the trap\'s message', { timeout: 30_000 }, async () => {
  const r = await provoke('trap');
  assert.equal(r.reason, 'trap');
  assert.match(r.message, /^trapped: unreachable/);
});

test('a guest that grows past limits.memory ends with reason memory', { timeout: 30_000 }, async () => {
  const r = await provoke('memory', { memory: 4 * 1024 * 1024 });
  assert.equal(r.reason, 'memory');
  assert.match(r.message, /memory maximum of 4194304 bytes/);
});

test('a guest that passes a pointer outside its memory ends with reason fault', { timeout: 30_000 }, async () => {
  const r = await provoke('badptr');
  assert.equal(r.reason, 'fault');
  assert.match(r.message, /socket_write: bytes \[4294967280, \+64\) are outside the guest's memory/);
});

test('a guest that uses a handle it does not hold ends with reason fault', { timeout: 30_000 }, async () => {
  const r = await provoke('badhandle');
  assert.equal(r.reason, 'fault');
  assert.match(r.message, /socket_write: \d+ is not a handle the guest holds/);
});

test('a guest that writes to its server\'s handle ends with reason fault', { timeout: 30_000 }, async () => {
  const r = await provoke('wrongkind');
  assert.equal(r.reason, 'fault');
  assert.match(r.message, /socket_write: handle \d+ is a server, not a socket/);
});

test('a guest that overflows its stack ends with reason trap', { timeout: 30_000 }, async () => {
  const r = await provoke('recurse');
  assert.equal(r.reason, 'trap');
  assert.match(r.message, /^trapped: Maximum call stack size exceeded/);
});

test('a guest that calls exit(3) ends with its status; its connections close', { timeout: 30_000 }, async () => {
  const r = await provoke('exit');
  assert.deepEqual(r, { reason: 'exit', code: 3, message: 'exited with status 3' });
});

test('stop() ends a guest stuck in a callback even with a long cpuMs', { timeout: 30_000 }, async () => {
  const { plugin, port } = await startListening(misbehave, ['0', 'loop'], { limits: { cpuMs: 60_000 } });
  const peer = watch(port);
  peer.socket.write('trigger');
  await until(() => plugin.usage().callbacks > 0 && plugin.usage().sockets > 0, 5000, 'the guest to start looping').catch(() => {});
  const r = await plugin.stop();
  assert.equal(r.reason, 'stopped');
  await peer.closed;
  await bystanderServes();
});

test('a guest that catches the fault of a bad import call (Wasm catch_all) is ended all the same', { timeout: 30_000 }, async () => {
  // Hand-assembled: wasinet_main() { try { socket_write(999, 0, 0) } catch_all {} }
  const str = (t: string) => [t.length, ...Buffer.from(t)];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const code = [0, 0x06, 0x40, 0x41, 0xe7, 0x07, 0x41, 0, 0x41, 0, 0x10, 0, 0x1a, 0x19, 0x0b, 0x0b];
  const bytes = new Uint8Array([
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [2, 0x60, 3, 0x7f, 0x7f, 0x7f, 1, 0x7f, 0x60, 0, 0]),
    ...section(2, [1, ...str('wasinet_guest'), ...str('socket_write'), 0, 0]),
    ...section(3, [1, 1]),
    ...section(5, [1, 0, 1]),
    ...section(7, [2, ...str('memory'), 2, 0, ...str('wasinet_main'), 0, 1]),
    ...section(10, [1, code.length, ...code]),
  ]);
  const r = await loadPlugin(bytes).exited;
  assert.equal(r.reason, 'fault');
  assert.match(r.message, /socket_write: 999 is not a handle the guest holds/);
});
