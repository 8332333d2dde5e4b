// The example plugins against node:net peers on real sockets (line-client, http-hello with
// keep-alive), and the policy cases of the plugins issue: a refused listen or connect reaches
// the guest as EACCES and nothing is sent (the stack's core decides: docs/sandbox.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import net from 'node:net';
import http from 'node:http';
import { listenPort, freePort, shutdown, sleep } from './helpers.js';
import { loadTracked, plugins, startListening } from './plugin-util.js';

const lineClient = join(plugins, 'line-client.wasm');

/** Runs line-client against `port` and returns its exit and output. */
async function runLineClient(target: string, line: string, options = {}) {
  let out = '';
  const plugin = loadTracked(lineClient, { ...options, args: [target, line], stdout: (t) => { out += t; } });
  const result = await plugin.exited;
  return { result, out };
}

test('line-client: sends its line to a node:net server and prints the first line of the reply', { timeout: 30_000 }, async () => {
  const got: string[] = [];
  const server = net.createServer((s) => {
    s.setEncoding('utf8');
    s.on('data', (d: string) => { got.push(d); s.write(`you said: ${d.trim()}\nsecond line\n`); });
  });
  const port = await listenPort(server);
  try {
    const { result, out } = await runLineClient(`127.0.0.1:${port}`, 'ping pong');
    assert.deepEqual(result, { reason: 'exit', code: 0, message: 'exited with status 0' });
    assert.equal(out, 'you said: ping pong\n');
    assert.deepEqual(got, ['ping pong\n']);
  } finally {
    await shutdown(server);
  }
});

test('line-client: a refused connection reaches the guest as ECONNREFUSED (syscall connect); it exits 1', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const { result, out } = await runLineClient(`127.0.0.1:${port}`, 'x');
  assert.deepEqual(result, { reason: 'exit', code: 1, message: 'exited with status 1' });
  assert.equal(out, `line-client: connect ECONNREFUSED 127.0.0.1:${port}\n`);
});

test('http-hello: node:http with a keep-alive agent makes five requests on one connection', { timeout: 30_000 }, async () => {
  const { plugin, port } = await startListening(join(plugins, 'http-hello.wasm'), ['0']);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<unknown>();
  for (let i = 0; i < 5; i++) {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', path: `/${i}`, agent, method: i === 2 ? 'POST' : 'GET' }, (res) => {
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers.connection, 'keep-alive');
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve(text));
      });
      req.on('socket', (s) => sockets.add(s));
      req.on('error', reject);
      req.end(i === 2 ? 'a body the server reads and ignores' : undefined);
    });
    assert.equal(body, 'hello world\n');
  }
  assert.equal(sockets.size, 1);
  agent.destroy();
  await plugin.stop();
});

test('http-hello: Connection: close is answered, then the server ends the connection', { timeout: 30_000 }, async () => {
  const { plugin, port } = await startListening(join(plugins, 'http-hello.wasm'), ['0']);
  const c = net.connect(port, '127.0.0.1');
  let text = '';
  c.setEncoding('utf8');
  c.on('data', (d) => { text += d; });
  c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await new Promise((r) => c.once('end', r));
  assert.equal(text.match(/HTTP\/1\.1 200 OK/g)?.length, 2);
  assert.match(text, /Connection: close\r\n\r\nhello world\n$/);
  c.destroy();
  await plugin.stop();
});

test('line-client: a port Node rejects is EINVAL in the guest, reported from a guest timer (the SDK reports it later, as Node)', { timeout: 30_000 }, async () => {
  const { result, out } = await runLineClient('127.0.0.1:99999', 'x');
  assert.deepEqual(result, { reason: 'exit', code: 1, message: 'exited with status 1' });
  assert.equal(out, 'line-client: connect EINVAL 127.0.0.1:99999\n');
});


test('policy: a guest listening where no rule allows gets EACCES (syscall listen) and exits; nothing is bound', { timeout: 30_000 }, async () => {
  const port = await freePort();
  let out = '';
  const plugin = loadTracked(join(plugins, 'echo.wasm'), { policy: { listen: [] }, args: [String(port)], stdout: (t) => { out += t; } });
  const result = await Promise.race([plugin.exited, sleep(5000).then(() => plugin.stop())]);
  await plugin.stop();
  assert.deepEqual(result, { reason: 'exit', code: 1, message: 'exited with status 1' });
  assert.equal(out, `echo: listen EACCES 127.0.0.1:${port}\n`);
  // Nothing was bound: a node:net server can take the port.
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.listen(port, '127.0.0.1', resolve); });
  await shutdown(probe);
});

test('policy: a guest connecting where no rule allows gets EACCES (syscall connect); the node:net listener sees no connection', { timeout: 30_000 }, async () => {
  let connections = 0;
  const server = net.createServer((s) => { connections++; s.destroy(); });
  const port = await listenPort(server);
  try {
    const { result, out } = await runLineClient(`127.0.0.1:${port}`, 'x', { policy: { connect: ['127.0.0.1:1'] } });
    assert.deepEqual(result, { reason: 'exit', code: 1, message: 'exited with status 1' });
    assert.equal(out, `line-client: connect EACCES 127.0.0.1:${port}\n`);
    await sleep(200);
    assert.equal(connections, 0);
  } finally {
    await shutdown(server);
  }
});

test('policy: an allowed connect goes through under a policy', { timeout: 30_000 }, async () => {
  const server = net.createServer((s) => { s.on('data', () => s.end('ok\n')); });
  const port = await listenPort(server);
  try {
    const { result, out } = await runLineClient(`127.0.0.1:${port}`, 'x', { policy: { connect: [`127.0.0.1:${port}`] } });
    assert.equal(result.code, 0);
    assert.equal(out, 'ok\n');
  } finally {
    await shutdown(server);
  }
});
