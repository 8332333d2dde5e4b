// setKeepAlive as the kernel sees it: the keep-alive timer of a client's TCP socket read from
// /proc/net/tcp (timer kind 2 and its expiry), for keep-alive asked for at every stage — the
// option, a new Socket before connect(), between connect() and the socket's connect(2) (libuv's
// own 60 s delay then), after 'connect' — on node:net and on wasinet: the same buckets. Linux
// only (skipped elsewhere, saying why).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import nodeNet from 'node:net';
import type { Socket } from 'node:net';
import { libs } from './helpers.js';

type Net = typeof nodeNet;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The client socket's keep-alive timer: 'off', or its expiry in a bucket of seconds. */
function keepAliveTimer(localPort: number, serverPort: number): string {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== `0100007F:${hex(localPort)}` || f[2] !== `0100007F:${hex(serverPort)}`) continue;
    const [kind, when] = f[5].split(':');
    if (kind !== '02') return 'off';
    const secs = parseInt(when, 16) / 100;
    return secs > 1500 ? '>1500 s' : secs > 60 ? '60-1500 s' : secs > 5 ? '5-60 s' : '0-5 s';
  }
  return 'not found';
}

const CASES: [string, (net: Net, port: number) => Socket, ((c: Socket) => void)?][] = [
  ['none', (net, port) => net.connect(port, '127.0.0.1')],
  ['right after connect(), 1000 ms', (net, port) => net.connect(port, '127.0.0.1').setKeepAlive(true, 1000)],
  ['right after connect(), no delay', (net, port) => net.connect(port, '127.0.0.1').setKeepAlive(true)],
  ['right after connect(), 500 ms (0 s)', (net, port) => net.connect(port, '127.0.0.1').setKeepAlive(true, 500)],
  ['new Socket, before connect(), no delay', (net, port) => new net.Socket().setKeepAlive(true).connect(port, '127.0.0.1')],
  ['option keepAlive, no delay', (net, port) => net.connect({ port, host: '127.0.0.1', keepAlive: true })],
  ['option keepAlive, 3000 ms', (net, port) => net.connect({ port, host: '127.0.0.1', keepAlive: true, keepAliveInitialDelay: 3000 })],
  ['after connect, 2000 ms', (net, port) => net.connect(port, '127.0.0.1'), (c) => c.setKeepAlive(true, 2000)],
  ['after connect, no delay', (net, port) => net.connect(port, '127.0.0.1'), (c) => c.setKeepAlive(true)],
  ['right after connect() no delay, after connect no delay again', (net, port) => net.connect(port, '127.0.0.1').setKeepAlive(true), (c) => c.setKeepAlive(true)],
  ['right after connect(), then off after connect', (net, port) => net.connect(port, '127.0.0.1').setKeepAlive(true), (c) => c.setKeepAlive(false)],
];

async function observe(net: Net): Promise<string[]> {
  const server = nodeNet.createServer((s) => s.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const serverPort = (server.address() as { port: number }).port;
  const seen: string[] = [];
  try {
    for (const [label, make, after] of CASES) {
      const c = make(net, serverPort);
      c.on('error', () => {});
      await new Promise((r) => c.once('connect', r));
      after?.(c);
      await sleep(30);
      seen.push(`${label}: ${keepAliveTimer(c.localPort!, serverPort)}`);
      c.destroy();
    }
  } finally {
    await new Promise((r) => server.close(r));
  }
  return seen;
}

const noProc = existsSync('/proc/net/tcp') ? false : 'needs /proc/net/tcp (Linux)';

test('setKeepAlive at every stage: the kernel\'s keep-alive timer is node:net\'s', { skip: noProc, timeout: 30000 }, async () => {
  const expected = await observe(nodeNet);
  assert.ok(expected.some((l) => l.endsWith('5-60 s')), `libuv's 60 s shows: ${expected.join('; ')}`);
  for (const [name, net] of libs) {
    if (net === nodeNet) continue;
    assert.deepEqual(await observe(net as unknown as Net), expected, name);
  }
});
