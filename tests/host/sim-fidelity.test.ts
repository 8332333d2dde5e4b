// The simulated network behaves as Linux loopback does where a node:net program can tell: each
// scenario runs on node:net over real loopback and on a sim stack, and the two logs must be
// equal. (Found by running Node's own net tests on the sim.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import nodeNet from 'node:net';
import { createStack } from '../../host/index.js';

const require = createRequire(import.meta.url);
type Net = typeof nodeNet;
type Scenario = (net: Net) => Promise<string[]>;

function listening(server: nodeNet.Server, options: nodeNet.ListenOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => resolve((server.address() as nodeNet.AddressInfo).port));
  });
}

const closed = (e: { once: Function }) => new Promise((r) => e.once('close', r));

const scenarios: Record<string, Scenario> = {
  async 'an IPv4 client of a default (dual-stack) listener is an IPv4-mapped IPv6 peer to the server'(net) {
    const log: string[] = [];
    const server = net.createServer((s) => {
      log.push(`server sees ${s.remoteAddress} ${s.remoteFamily}, local ${s.localAddress} ${s.localFamily}`);
      s.end();
    });
    const port = await listening(server, { port: 0 });
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => log.push(`client sees ${c.remoteAddress} ${c.remoteFamily}`));
    c.resume();
    await closed(c);
    server.close();
    return log;
  },

  async 'writing after the peer closed its socket fails with EPIPE on write'(net) {
    const log: string[] = [];
    const server = net.createServer((s) => s.destroy());
    const port = await listening(server, { port: 0, host: '127.0.0.1' });
    const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    c.resume();
    c.on('end', () => { log.push('end'); c.write('a'); setTimeout(() => c.write('b'), 50); });
    c.on('error', (e: NodeJS.ErrnoException) => log.push(`error ${e.code} ${e.syscall}`));
    await closed(c);
    server.close();
    return log;
  },

  async 'a client destroyed before it saw connect: the server sees end, and the local port is free again'(net) {
    const log: string[] = [];
    const probe = net.createServer();
    const localPort = await listening(probe, { port: 0, host: '127.0.0.1' });
    await new Promise((r) => probe.close(r));
    let first: nodeNet.Socket;
    const serverDone = new Promise<void>((resolve) => {
      const server = net.createServer((s) => {
        first.destroy();
        s.on('error', (e: NodeJS.ErrnoException) => log.push(`server side error ${e.code}`));
        s.on('end', () => log.push('server side end'));
        s.resume();
        s.on('close', () => { server.close(); resolve(); });
      });
      server.listen(0, '127.0.0.1', () => {
        first = net.connect({ port: (server.address() as nodeNet.AddressInfo).port, host: '127.0.0.1', localAddress: '127.0.0.1', localPort });
        first.on('connect', () => log.push('first connected'));
      });
    });
    await serverDone;
    const other = net.createServer((x) => x.destroy());
    const port = await listening(other, { port: 0, host: '127.0.0.1' });
    const again = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1', localPort });
    again.on('connect', () => { log.push('the local port binds again'); again.destroy(); });
    again.on('error', (e: NodeJS.ErrnoException) => log.push(`bind again: ${e.code}`));
    await closed(again);
    other.close();
    return log;
  },

  async 'one port in two families, ipv6Only, and a connection\'s local port: which listens clash'(net) {
    const log: string[] = [];
    const pairs: [nodeNet.ListenOptions, nodeNet.ListenOptions][] = [
      [{ host: '0.0.0.0' }, { host: '::1' }],
      [{ host: '::', ipv6Only: true }, { host: '0.0.0.0' }],
      [{ host: '::', ipv6Only: true }, { host: '127.0.0.1' }],
      [{ host: '::' }, { host: '127.0.0.1' }],
      [{ host: '127.0.0.1' }, { host: '0.0.0.0' }],
      [{ host: '127.0.0.1' }, { host: '127.0.0.1' }],
    ];
    for (const [x, y] of pairs) {
      const a = net.createServer();
      const port = await listening(a, { ...x, port: 0 });
      const b = net.createServer();
      const outcome = await listening(b, { ...y, port }).then(() => 'ok', (e: NodeJS.ErrnoException) => e.code);
      log.push(`${JSON.stringify(x)} then ${JSON.stringify(y)}: ${outcome}`);
      if (outcome === 'ok') await new Promise((r) => b.close(r));
      await new Promise((r) => a.close(r));
    }
    const s = net.createServer((x) => x.resume());
    const port = await listening(s, { port: 0, host: '127.0.0.1' });
    const c = net.connect(port, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    const s2 = net.createServer();
    log.push(`listen on a connection's local port: ${await listening(s2, { port: c.localPort }).then(() => 'ok', (e) => e.code)}`);
    c.destroy();
    s.close();
    return log;
  },

  async 'connecting to the unspecified address reaches loopback'(net) {
    const log: string[] = [];
    for (const [host, target] of [['127.0.0.1', '0.0.0.0'], [undefined, '0.0.0.0'], ['::1', '::'], [undefined, '::']]) {
      const s = net.createServer((x) => x.destroy());
      const port = await listening(s, { port: 0, host });
      const c = net.connect(port, target!);
      c.on('connect', () => { log.push(`${host} <- ${target}: remote ${c.remoteAddress} local ${c.localAddress}`); c.destroy(); });
      c.on('error', (e: NodeJS.ErrnoException) => log.push(`${host} <- ${target}: ${e.code}`));
      await closed(c);
      await new Promise((r) => s.close(r));
    }
    return log;
  },
};

for (const [name, scenario] of Object.entries(scenarios)) {
  test(`sim as loopback: ${name}`, { timeout: 20000 }, async () => {
    const expected = await scenario(nodeNet);
    const sim = createStack({ backend: 'sim', seed: 5 }) as unknown as Net;
    const actual = await scenario(sim);
    assert.ok(expected.length > 0);
    assert.deepEqual(actual, expected);
  });
}

test('sim: an unref\'ed socket\'s idle timeout neither keeps the process alive nor fires, as on node:net', () => {
  const script = (make: string) => `
    const lib = require(${JSON.stringify(require.resolve('../../host/index.js'))});
    const net = ${make};
    const server = net.createServer((c) => c.unref());
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      const s = net.connect(server.address().port, '127.0.0.1');
      s.setTimeout(5000, () => { console.log('timeout fired'); s.destroy(); });
      s.unref();
    });
    process.on('exit', () => console.log('exit'));`;
  const run = (make: string) => spawnSync(process.execPath, ['-e', script(make)], { encoding: 'utf8', timeout: 15000 });
  const real = run("require('node:net')");
  const sim = run("lib.createStack({ backend: 'sim', seed: 1 })");
  assert.equal(real.stdout, 'exit\n', real.stderr);
  assert.equal(sim.stdout, real.stdout, sim.stderr);
});

test('sim: a ref\'ed socket\'s idle timeout fires in virtual time, and a stack timer keeps the network running', () => {
  const script = `
    const lib = require(${JSON.stringify(require.resolve('../../host/index.js'))});
    const net = lib.createStack({ backend: 'sim', seed: 1 });
    const server = net.createServer(() => {});
    server.listen(0, '127.0.0.1', () => {
      const s = net.connect(server.address().port, '127.0.0.1');
      s.setTimeout(30000, () => { console.log('timeout at', net.now() >= 30000); s.destroy(); server.close(); });
      server.unref();
    });
    net.setTimeout(() => console.log('stack timer at', net.now()), 60000);
    const t0 = Date.now();
    process.on('exit', () => console.log('exit, wall under 5 s', Date.now() - t0 < 5000));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.stdout, 'timeout at true\nstack timer at 60000\nexit, wall under 5 s true\n', r.stderr);
});
