// A guest in another language: guest/examples-c/echo.c, written from docs/guest.md alone with no
// SDK and no libc, built by clang --target=wasm32 where that toolchain is installed (skipped
// elsewhere). The same checks as the AssemblyScript echo: byte-exact both ways with half-close,
// and backpressure from a client that does not read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { sendPattern, hashUntilEnd, patternHash, sleep } from './helpers.js';
import { plugins, startListening } from './plugin-util.js';

const echoC = join(plugins, 'echo-c.wasm');
const skip = existsSync(echoC) ? false : 'clang --target=wasm32 is not installed: build/plugins/echo-c.wasm was not built';
const MiB = 1024 * 1024;

test('C echo guest: 1 MiB each way, byte-exact, half-close', { skip, timeout: 60_000 }, async () => {
  const { plugin, port, out } = await startListening(echoC, ['0']);
  assert.match(out(), /^echo listening on 127\.0\.0\.1:\d+\n$/);
  const c = net.connect(port, '127.0.0.1');
  const got = hashUntilEnd(c);
  await sendPattern(c, 77, MiB);
  assert.deepEqual(await got, { hash: patternHash(77, MiB), bytes: MiB });
  await new Promise((r) => c.once('close', r));
  await plugin.stop();
});

test('C echo guest: a client that does not read holds it back; then every byte arrives', { skip, timeout: 60_000 }, async () => {
  const { plugin, port } = await startListening(echoC, ['0']);
  const c = net.connect(port, '127.0.0.1');
  c.pause();
  const size = 8 * MiB;
  const sent = sendPattern(c, 78, size);
  await sleep(500);
  assert.ok(plugin.usage().bytesIn < size);
  const got = hashUntilEnd(c);
  c.resume();
  await sent;
  assert.deepEqual(await got, { hash: patternHash(78, size), bytes: size });
  await plugin.stop();
});
