// The echo plugin (guest/examples/echo.ts) on real sockets against node:net clients: byte-exact
// both ways with half-close, several clients at once, backpressure from a client that does not
// read, stop() closing its connections, and the checks loadPlugin makes before a guest runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import net from 'node:net';
import { loadPlugin, GuestLoadError } from '../../host/plugin/load.js';
import { sendPattern, hashUntilEnd, patternHash, sleep, until } from './helpers.js';
import { guests, loadTracked, plugins, startListening, watch } from './plugin-util.js';

const echo = join(plugins, 'echo.wasm');
const MiB = 1024 * 1024;

test('echo plugin: 1 MiB each way, byte-exact, and its end follows the client\'s half-close', { timeout: 60_000 }, async () => {
  const { plugin, port } = await startListening(echo, ['0']);
  const c = net.connect(port, '127.0.0.1');
  const got = hashUntilEnd(c);
  await sendPattern(c, 11, MiB);
  const { hash, bytes } = await got;
  assert.equal(bytes, MiB);
  assert.equal(hash, patternHash(11, MiB));
  await new Promise((r) => c.once('close', r));
  const u = plugin.usage();
  assert.equal(u.bytesIn, MiB);
  assert.equal(u.bytesOut, MiB);
  assert.equal(u.servers, 1);
  assert.equal((await plugin.stop()).reason, 'stopped');
});

test('echo plugin: eight clients at once each get their own bytes back', { timeout: 60_000 }, async () => {
  const { plugin, port } = await startListening(echo, ['0']);
  const size = 256 * 1024;
  await Promise.all(Array.from({ length: 8 }, async (_, i) => {
    const c = net.connect(port, '127.0.0.1');
    const got = hashUntilEnd(c);
    await sendPattern(c, 100 + i, size);
    assert.deepEqual(await got, { hash: patternHash(100 + i, size), bytes: size });
  }));
  // Each of its eight connections closed and was counted out; the server is still there.
  await until(() => plugin.usage().sockets === 0, 5000, 'the guest\'s sockets to close');
  assert.equal(plugin.usage().servers, 1);
  await plugin.stop();
});

test('echo plugin: a client that does not read holds the echo back (bounded), then gets every byte', { timeout: 60_000 }, async () => {
  const { plugin, port } = await startListening(echo, ['0']);
  const c = net.connect(port, '127.0.0.1');
  c.pause();
  const size = 8 * MiB;
  const sent = sendPattern(c, 5, size);
  await sleep(500);
  // The guest paused its reading when its writes were not taken: it has not read all 8 MiB.
  assert.ok(plugin.usage().bytesIn < size, `the plugin read ${plugin.usage().bytesIn} bytes from a client that never read`);
  const got = hashUntilEnd(c);
  c.resume();
  await sent;
  assert.deepEqual(await got, { hash: patternHash(5, size), bytes: size });
  await plugin.stop();
});

test('echo plugin: stop() closes its connections (the node:net peer sees close) and its listener', { timeout: 30_000 }, async () => {
  const { plugin, port } = await startListening(echo, ['0']);
  const peer = watch(port);
  peer.socket.write('ping');
  await until(() => peer.received() === 4, 5000, 'the echo');
  const result = await plugin.stop();
  assert.deepEqual(result, { reason: 'stopped', code: 0, message: 'stopped by the host' });
  await peer.closed;
  const refused = watch(port);
  await refused.closed;
  assert.equal(refused.error(), 'ECONNREFUSED');
});

test('echo plugin: without a port argument it prints its usage and exits 2', { timeout: 30_000 }, async () => {
  let out = '';
  const plugin = loadTracked(echo, { stdout: (t) => { out += t; } });
  assert.deepEqual(await plugin.exited, { reason: 'exit', code: 2, message: 'exited with status 2' });
  assert.match(out, /usage: echo PORT/);
});

/** A module of hand-written bytes: one function import `mod.name`, optionally a memory export. */
function moduleBytes(mod: string, name: string, memory: [number, number?] | null): Uint8Array {
  const str = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const bytes = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...section(1, [1, 0x60, 0, 0]), ...section(2, [1, ...str(mod), ...str(name), 0, 0])];
  if (memory) {
    const limits = memory[1] === undefined ? [0, memory[0]] : [1, memory[0], memory[1]];
    bytes.push(...section(5, [1, ...limits]), ...section(7, [1, ...str('memory'), 2, 0]));
  }
  return new Uint8Array(bytes);
}

test('loadPlugin refuses a module that imports what docs/guest.md does not offer', () => {
  assert.throws(() => loadPlugin(moduleBytes('env', 'open', [1])), (e: Error) => e instanceof GuestLoadError && /imports env\.open, which docs\/guest\.md does not offer/.test(e.message));
  assert.throws(() => loadPlugin(moduleBytes('wasi_snapshot_preview1', 'path_open', [1])), /path_open, which docs\/guest\.md does not offer/);
});

test('loadPlugin refuses a module without an exported memory, or one that needs more than limits.memory at start', () => {
  assert.throws(() => loadPlugin(moduleBytes('wasinet_guest', 'log', null)), /exports no memory/);
  assert.throws(() => loadPlugin(moduleBytes('wasinet_guest', 'log', [40]), { limits: { memory: 1024 * 1024 } }), /needs 2621440 bytes of memory at start, over its limit of 1048576/);
  assert.throws(() => loadPlugin(new Uint8Array([1, 2, 3])), /not a valid WebAssembly module/);
});

test('loadPlugin writes the memory limit into the module: a guest memory cannot grow past it', async () => {
  // The guest does nothing (no _initialize): it ends at once with nothing to do; what matters is
  // that it loaded, and that the limit is in the module itself.
  const { capMemory } = await import('../../host/plugin/module.js');
  const capped = capMemory(moduleBytes('wasinet_guest', 'log', [1, 1000]), 4);
  assert.equal(capped.maxPages, 4);
  assert.equal(capMemory(moduleBytes('wasinet_guest', 'log', [1, 2]), 4).maxPages, 2, 'a lower maximum of the module stays');
  const inst = new WebAssembly.Instance(new WebAssembly.Module(capped.bytes), { wasinet_guest: { log: () => {} } });
  const mem = inst.exports.memory as WebAssembly.Memory;
  assert.equal(mem.grow(3), 1);
  assert.throws(() => mem.grow(1), RangeError);
  const plugin = loadTracked(moduleBytes('wasinet_guest', 'log', [1]));
  assert.equal((await plugin.exited).reason, 'done');
});

// socket_write takes what the connection takes at once plus the Writable's room, in one write()
// where it can. A short count must always mean a write() returned false ('drain' follows): a
// large write that meets a batch of this turn's small writes still waiting is taken in pieces
// while write() returns true, not cut short with no 'drain' to come (the guest would wait forever).
test('burst guest: small and large writes in one callback all arrive, in order, then its end', { timeout: 30_000 }, async () => {
  const sizes = [1000, 53, 65536, 53, 16384, 200_000, 1, 65536];
  const { plugin, port } = await startListening(join(guests, 'burst.wasm'), ['0', ...sizes.map(String)]);
  try {
    for (let round = 0; round < 3; round++) {
      const c = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      c.on('data', (d: Buffer) => chunks.push(d));
      const ended = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 10_000);
        c.on('end', () => { clearTimeout(t); resolve(true); });
      });
      c.destroy();
      const got = Buffer.concat(chunks);
      const total = sizes.reduce((a, b) => a + b, 0);
      assert.equal(ended, true, `round ${round}: no end after ${got.length} of ${total} bytes`);
      assert.equal(got.length, total);
      for (let i = 0; i < got.length; i++) if (got[i] !== (i & 0xff)) assert.fail(`round ${round}: byte ${i} is ${got[i]}`);
    }
  } finally {
    await plugin.stop();
  }
});
