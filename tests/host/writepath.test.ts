// The node backend drives libuv's handles itself when Node's internals allow it (node.ts), else
// node:net Sockets (node-public.ts); WASINET_BACKEND=public forces the second. Both must move
// bytes exactly both ways, reading into the core's memory while it grows: this runs a transfer
// on each in a child process (the whole suite also runs on the public one: scripts/test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeTransport } from '../../host/backend/node.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

const script = `
  import net from ${JSON.stringify(join(root, 'build/host/index.js'))};
  import { nodeTransport } from ${JSON.stringify(join(root, 'build/host/backend/node.js'))};
  import { getDefaultStack } from ${JSON.stringify(join(root, 'build/host/net/stack.js'))};
  import { createHash } from 'node:crypto';
  const size = 32 * 1024 * 1024;
  const server = net.createServer((s) => s.pipe(s));
  server.listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1');
    const sent = createHash('sha256'), got = createHash('sha256');
    let n = 0;
    c.on('data', (d) => { got.update(d); n += d.length; });
    c.on('end', () => {
      console.log(JSON.stringify({ nodeTransport, backend: getDefaultStack().backend.transport, n, same: sent.digest('hex') === got.digest('hex') }));
      server.close(); c.end();
    });
    (async () => {
      for (let i = 0; i < size / 16384; i++) {
        const b = Buffer.alloc(16384, i & 255); sent.update(b);
        if (!c.write(b)) await new Promise((r) => c.once('drain', r));
      }
      c.end();
    })();
  });
`;

function run(env: Record<string, string>): { nodeTransport: string; backend: string; n: number; same: boolean } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8', env: { ...process.env, WASINET_BACKEND: '', ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim());
}

test('the public transport (node:net Sockets, WASINET_BACKEND=public) moves 32 MiB each way exactly', { timeout: 60000 }, () => {
  const r = run({ WASINET_BACKEND: 'public' });
  assert.deepEqual(r, { nodeTransport: 'public', backend: 'public', n: 32 * 1024 * 1024, same: true });
});

test('the default transport moves 32 MiB each way exactly, and is libuv\'s handles on this Node', { timeout: 60000 }, () => {
  const r = run({});
  assert.equal(nodeTransport, process.env.WASINET_BACKEND === 'public' ? 'public' : 'libuv');
  assert.deepEqual(r, { nodeTransport: 'libuv', backend: 'libuv', n: 32 * 1024 * 1024, same: true },
    'Node 20 offers tcp_wrap, pipe_wrap and stream_wrap: the feature check should find them');
});

// Writes and then process.exit() at once: node:net's bytes leave (the kernel takes them inside
// write()); wasinet's batched writes of that turn must leave too (flushed on 'exit').
for (const lib of ['node:net', 'wasinet'] as const) {
  for (const backend of lib === 'wasinet' ? ['node', 'public'] : ['-']) {
    test(`${lib}${backend === '-' ? '' : ` (${backend} backend)`}: writes on a Socket over fd 2, then process.exit() at once: every byte arrives`, { timeout: 20000 }, () => {
      const mod = lib === 'wasinet' ? JSON.stringify(join(root, 'build/host/index.js')) : '"node:net"';
      const child = `
        import net from ${mod};
        const s = new net.Socket({ fd: 2, readable: false, writable: true });
        s.write('child\\n');
        for (let i = 0; i < 100; i++) s.write('line ' + i + '\\n');
        s.write(Buffer.alloc(1000, 'x'));
        s.write('\\nlast\\n');
        process.exit();
      `;
      const env = { ...process.env, WASINET_BACKEND: backend === 'public' ? 'public' : '' };
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8', env, timeout: 15000 });
      let want = 'child\n';
      for (let i = 0; i < 100; i++) want += `line ${i}\n`;
      want += `${'x'.repeat(1000)}\nlast\n`;
      assert.equal(r.status, 0, r.stderr.slice(0, 300));
      assert.equal(r.stderr, want);
    });
  }
}

// The same with several stacks: each keeps its own batch, some turns end in between (their
// batches leave then), and the last turn's writes of every stack leave on 'exit'.
test('wasinet: four stacks write, their turns end, three write again, then process.exit() at once: every byte arrives', { timeout: 20000 }, async () => {
  const { createServer } = await import('node:net');
  const { spawn } = await import('node:child_process');
  const got: string[] = [];
  const server = createServer((s) => {
    let d = '';
    s.setEncoding('utf8');
    s.on('data', (x) => { d += x; });
    s.on('end', () => { got.push(d); });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const child = `
    import net, { createStack } from ${JSON.stringify(join(root, 'build/host/index.js'))};
    const stacks = [net, createStack(), createStack(), createStack()];
    const socks = await Promise.all(stacks.map((n) => new Promise((r) => { const s = n.connect(${port}, '127.0.0.1', () => r(s)); })));
    socks.forEach((s, i) => { for (let k = 0; k < 5; k++) s.write('s' + i + '-' + k + ';'); });
    await new Promise((r) => setImmediate(r));
    for (const i of [2, 0, 3]) socks[i].write('late' + i + ';');
    socks[2].write('x;');
    process.exit();
  `;
  const c = spawn(process.execPath, ['--input-type=module', '-e', child], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d) => { err += d; });
  const status = await new Promise<number | null>((r) => c.on('close', r));
  const deadline = Date.now() + 5000;
  while (got.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  server.close();
  assert.equal(status, 0, err.slice(0, 300));
  const late = ['late0;', '', 'late2;x;', 'late3;'];
  const want = late.map((tail, i) => [0, 1, 2, 3, 4].map((k) => `s${i}-${k};`).join('') + tail);
  assert.deepEqual(got.sort(), want);
});
