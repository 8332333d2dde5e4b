// Reading while the core's memory grows. A large write queues bytes in the core, whose Wasm
// memory then grows, and every view of the old memory is detached (zero-length). A transport
// whose next read target were such a view would fail that read with ENOBUFS: on the writing
// socket, or on any other socket of the stack. node:net never fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { libs, serve, closed, until } from './helpers.js';
import { createStack } from '../../host/index.js';

for (const [lib, net] of libs) {
  test(`${lib}: a 16 MiB write in a microtask right after the first 'data', then more data: no read error`, { timeout: 15000 }, async () => {
    const srv = await serve(nodeNet, (s) => {
      s.on('error', () => {});
      s.write('hello');
      setTimeout(() => s.end('again'), 200);
      s.resume();
    });
    try {
      const c = net.connect(srv.port, '127.0.0.1');
      let got = '';
      const errors: string[] = [];
      c.once('data', () => queueMicrotask(() => c.write(Buffer.alloc(16 << 20))));
      c.on('data', (d) => { got += d; });
      c.on('error', (e: NodeJS.ErrnoException) => errors.push(`${e.syscall} ${e.code}`));
      c.on('end', () => c.end());
      await closed(c);
      assert.deepEqual(errors, []);
      assert.equal(got, 'helloagain');
    } finally { await srv.close(); }
  });
}

test('wasinet: a write on another socket of the stack, in the microtask after a read, does not break the reader', { timeout: 15000 }, async () => {
  const net = createStack();
  const peers: nodeNet.Socket[] = [];
  const srv = await serve(nodeNet, (s) => { peers.push(s); s.on('error', () => {}); s.resume(); });
  try {
    const reader = net.connect(srv.port, '127.0.0.1');
    const writer = net.connect(srv.port, '127.0.0.1');
    let got = '';
    const errors: string[] = [];
    for (const s of [reader, writer]) s.on('error', (e: NodeJS.ErrnoException) => errors.push(`${e.syscall} ${e.code}`));
    await until(() => peers.length === 2 && reader.localPort !== undefined && writer.localPort !== undefined);
    const peerOf = (s: { localPort?: number }) => peers.find((p) => p.remotePort === s.localPort)!;
    // The reader's first data: a microtask queues 64 MiB on the other socket, growing the
    // core's memory while the reader's transport takes its next read target.
    reader.once('data', () => queueMicrotask(() => { for (let i = 0; i < 4; i++) writer.write(Buffer.alloc(16 << 20)); }));
    reader.on('data', (d) => { got += d; });
    peerOf(reader).write('first');
    await until(() => got === 'first', 5000, 'the first data');
    await new Promise((r) => setTimeout(r, 50));
    peerOf(reader).write(' second');
    await until(() => got === 'first second' || errors.length > 0, 5000, 'the second data');
    assert.deepEqual(errors, []);
    assert.equal(got, 'first second');
    reader.destroy();
    writer.destroy();
  } finally { await srv.close(); }
});
