// TCP end to end over real loopback sockets, against node:net peers in both directions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import net from '../../host/index.js';
import { sendPattern, hashUntilEnd, patternHash, closed } from './helpers.js';

const MiB = 1024 * 1024;

function listen(server: { listen: Function; address(): unknown; once: Function }, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as { port: number }).port));
  });
}

test('wasinet server, node:net client: 64 MiB each way arrive byte-exact', { timeout: 60000 }, async () => {
  const size = 64 * MiB;
  let serverGot: Promise<{ hash: string; bytes: number }> | null = null;
  // Each side sends its whole stream whatever the other does: half-open on both ends, or the
  // side that finishes receiving first would end its writing half early (allowHalfOpen false).
  const server = net.createServer({ allowHalfOpen: true }, (s: InstanceType<typeof net.Socket>) => {
    serverGot = hashUntilEnd(s);
    void sendPattern(s, 2, size);
  });
  const port = await listen(server);
  const client = nodeNet.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const clientClosed = closed(client);
  const clientGot = hashUntilEnd(client);
  await sendPattern(client, 1, size);
  const [c, s] = await Promise.all([clientGot, new Promise<{ hash: string; bytes: number }>((r) => {
    const wait = () => (serverGot ? serverGot.then(r) : setImmediate(wait));
    wait();
  })]);
  assert.equal(s.bytes, size);
  assert.equal(s.hash, patternHash(1, size));
  assert.equal(c.bytes, size);
  assert.equal(c.hash, patternHash(2, size));
  await clientClosed;
  await new Promise((r) => server.close(r));
});

test('node:net server, wasinet client: 64 MiB each way arrive byte-exact, in chunks of at most 64 KiB as in Node', { timeout: 60000 }, async () => {
  const size = 64 * MiB;
  let serverGot!: Promise<{ hash: string; bytes: number }>;
  const server = nodeNet.createServer({ allowHalfOpen: true }, (s) => {
    serverGot = hashUntilEnd(s);
    void sendPattern(s, 4, size);
  });
  const port = await listen(server);
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const clientClosed = closed(client);
  const clientGot = hashUntilEnd(client);
  let biggest = 0;
  client.on('data', (d: Buffer) => { biggest = Math.max(biggest, d.length); });
  await sendPattern(client, 3, size);
  const c = await clientGot;
  const s = await serverGot;
  assert.equal(s.bytes, size);
  assert.equal(s.hash, patternHash(3, size));
  assert.equal(c.bytes, size);
  assert.equal(c.hash, patternHash(4, size));
  assert.ok(biggest > 0 && biggest <= 65536, `largest 'data' chunk ${biggest}`);
  await clientClosed;
  await new Promise((r) => server.close(r));
});

test('half-close: each side keeps writing after the other ended (allowHalfOpen)', { timeout: 20000 }, async () => {
  // wasinet server with allowHalfOpen answers after the client's FIN; then the reverse roles.
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => {
      assert.equal(s.writable, true);
      s.end(`got ${Buffer.concat(chunks).toString()}`);
    });
  });
  const port = await listen(server);
  const client = nodeNet.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const clientClosed = closed(client);
  client.end('question');
  const reply: Buffer[] = [];
  client.on('data', (d) => reply.push(d));
  await new Promise((r) => client.on('end', r));
  assert.equal(Buffer.concat(reply).toString(), 'got question');
  await clientClosed;
  await new Promise((r) => server.close(r));

  const nodeServer = nodeNet.createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => s.end(`node got ${Buffer.concat(chunks).toString()}`));
  });
  const port2 = await listen(nodeServer);
  const c2 = net.connect({ port: port2, host: '127.0.0.1', allowHalfOpen: true });
  const events: string[] = [];
  c2.on('finish', () => events.push('finish'));
  c2.on('end', () => events.push('end'));
  c2.end('hello');
  const got: Buffer[] = [];
  c2.on('data', (d) => got.push(d));
  const [hadError] = await closed(c2);
  assert.equal(hadError, false);
  assert.equal(Buffer.concat(got).toString(), 'node got hello');
  assert.deepEqual(events, ['finish', 'end']);
  await new Promise((r) => nodeServer.close(r));
});

test('ECONNREFUSED has the fields and message node:net gives', { timeout: 10000 }, async () => {
  // A port that was just free: listen, note it, close.
  const probe = nodeNet.createServer();
  const port = await listen(probe);
  await new Promise((r) => probe.close(r));

  const errorOf = (mod: typeof nodeNet) => new Promise<NodeJS.ErrnoException & { address: string; port: number }>((resolve) => {
    const s = mod.connect(port, '127.0.0.1');
    s.on('error', (e) => resolve(e as never));
  });
  const ours = await errorOf(net as unknown as typeof nodeNet);
  const theirs = await errorOf(nodeNet);
  assert.equal(ours.message, theirs.message);
  assert.equal(ours.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
  for (const k of ['code', 'errno', 'syscall', 'address', 'port'] as const) assert.equal(ours[k], theirs[k], k);
  assert.ok(ours instanceof Error);
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort());
});

test('a client\'s names after connect equal node:net\'s, for 127.0.0.1, 0.0.0.0 (the kernel connects it to a local address) and ::1', async () => {
  const server = nodeNet.createServer((s) => s.end());
  const port = await listen(server, '::');
  const namesOf = (lib: { connect: Function }, host: string) => new Promise<unknown[]>((resolve, reject) => {
    const c = lib.connect(port, host);
    c.on('error', reject);
    c.on('connect', () => {
      resolve([c.remoteAddress, c.remotePort, c.remoteFamily, c.localAddress, c.localFamily, typeof c.localPort, c.localPort > 0]);
      c.destroy();
    });
  });
  try {
    for (const host of ['127.0.0.1', '0.0.0.0', '::1']) {
      const want = await namesOf(nodeNet, host);
      const got = await namesOf(net, host);
      assert.deepEqual(got, want, host);
    }
    assert.equal((await namesOf(net, '0.0.0.0'))[0], '127.0.0.1');
  } finally {
    await new Promise((r) => server.close(r));
  }
});
