// Consumers on wasinet's simulated network: the same http, ws and mqtt exchanges as on real
// sockets, with `createStack({ backend: 'sim', seed })` as the `net`. Each exchange runs
//   - on real loopback sockets with node:net and with wasinet (their results must be equal),
//   - on the sim with seed 7 twice: results equal to the real runs', event logs (with virtual
//     times) identical between the two runs (determinism),
//   - on the sim with seed 8: the same results, a different log (the seed matters).
// The exchanges are written event-driven only (no polling with wall-clock timers), so that
// everything they do follows the simulated network's events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import nodeNet from 'node:net';
import type { EventEmitter } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import { Aedes } from 'aedes';
import { MqttClient } from 'mqtt';
import { createStack } from '../../host/index.js';
import {
  scoped, wasinet, fetchHttp, whenBody, patternBuffer, patternChunks, patternSha, sha256, once, KiB,
  type Net, type Scope,
} from './consumers/util.js';

const host = '127.0.0.1';

interface Env {
  /** The virtual time on the sim; null on real sockets (nothing timed is logged there). */
  now(): number | null;
  log: string[];
}

type Exchange<R> = (sc: Scope, env: Env) => Promise<R>;

/** Listens on 127.0.0.1, an ephemeral port (the sim picks one from its seed-independent range). */
function listen(server: nodeNet.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as { port: number }).port));
  });
}

function stamp(env: Env, what: string): void {
  const t = env.now();
  if (t !== null) env.log.push(`t=${t} ${what}`);
}

/** Resolves when `pred()` holds after one of `events` on `e` (checked on each emission). */
function whenTrue(e: EventEmitter, events: string[], pred: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (pred()) { resolve(); return; }
    const check = () => { if (pred()) { for (const ev of events) e.off(ev, check); resolve(); } };
    for (const ev of events) e.on(ev, check);
  });
}

// ------------------------------------------------------------------------------------ exchanges

/** http: a server fed by the net's server; an Agent (keepAlive, 1 socket) on the net; 5 requests. */
const httpExchange: Exchange<string[]> = async (sc, env) => {
  const hs = http.createServer((req, res) => {
    res.sendDate = false;
    stamp(env, `server ${req.method} ${req.url}`);
    whenBody(req, (d) => {
      if (req.url === '/big') res.end(patternBuffer(71, 256 * KiB));
      else res.end(`${req.method} ${req.url} ${d.bytes} ${d.sha}`);
    });
  });
  const port = await listen(sc.net.createServer((s) => hs.emit('connection', s)));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  (agent as unknown as { createConnection: Function }).createConnection = (o: nodeNet.NetConnectOpts, cb: () => void) => sc.net.createConnection(o, cb);
  sc.defer(() => agent.destroy());
  const out: string[] = [];
  const plan: [string, string, Buffer | Buffer[] | null][] = [
    ['GET', '/a', null], ['POST', '/b', Buffer.from('small')], ['POST', '/c', patternBuffer(70, 256 * KiB)],
    ['GET', '/big', null], ['POST', '/d', patternChunks(72, 100 * KiB, 10 * KiB)],
  ];
  for (const [method, path, body] of plan) {
    const r = await fetchHttp({ host, port, method, path, agent }, body);
    stamp(env, `client ${path} ${r.status} ${r.bytes}`);
    out.push(`${r.status} ${r.reused} ${r.bytes} ${r.text || r.sha}`);
  }
  agent.destroy();
  return out;
};

function httpExpected(): string[] {
  const echo = (reused: boolean, m: string, p: string, body: Buffer | string) => {
    const text = `${m} ${p} ${Buffer.byteLength(body)} ${sha256(body)}`;
    return `200 ${reused} ${text.length} ${text}`;
  };
  return [
    echo(false, 'GET', '/a', ''), echo(true, 'POST', '/b', 'small'), echo(true, 'POST', '/c', patternBuffer(70, 256 * KiB)),
    `200 true ${256 * KiB} ${patternSha(71, 256 * KiB)}`, echo(true, 'POST', '/d', patternBuffer(72, 100 * KiB)),
  ];
}

/** ws: 300 messages echoed in order, a 256 KiB binary one, close 4000 with a reason. */
const wsExchange: Exchange<object> = async (sc, env) => {
  const hs = http.createServer();
  const wss = new WebSocketServer({ server: hs });
  sc.defer(() => { for (const c of wss.clients) { c.on('error', () => {}); c.terminate(); } wss.close(); });
  let onServerClose: (s: string) => void = () => {};
  const serverClosed = new Promise<string>((resolve) => { onServerClose = resolve; });
  wss.on('connection', (ws) => {
    ws.on('message', (d: Buffer, isBinary: boolean) => ws.send(isBinary ? `bin ${d.length} ${sha256(d)}` : `echo ${d}`));
    ws.on('close', (code: number, reason: Buffer) => { stamp(env, 'server close'); onServerClose(`${code} ${reason}`); });
  });
  const port = await listen(sc.net.createServer((s) => hs.emit('connection', s)));
  const ws = new WebSocket(`ws://${host}:${port}/`, { createConnection: () => sc.net.connect(port, host), perMessageDeflate: false } as WebSocket.ClientOptions);
  sc.defer(() => { ws.on('error', () => {}); ws.terminate(); });
  const got: string[] = [];
  ws.on('message', (d: Buffer) => { got.push(d.toString()); if (got.length % 50 === 0) stamp(env, `client got ${got.length}`); });
  const closed = new Promise<string>((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve(`${code} ${reason}`)));
  await once(ws as unknown as EventEmitter, 'open');
  stamp(env, 'open');
  for (let i = 0; i < 300; i++) ws.send(`m${i}`);
  ws.send(patternBuffer(73, 256 * KiB));
  await whenTrue(ws as unknown as EventEmitter, ['message'], () => got.length === 301);
  ws.close(4000, 'sim done');
  const clientClose = await closed;
  stamp(env, 'client close');
  const serverClose = await serverClosed;
  return { order: sha256(got.join('\n')), last: got[300], count: got.length, clientClose, serverClose };
};

function wsExpected(): object {
  const got = [...Array.from({ length: 300 }, (_, i) => `echo m${i}`), `bin ${256 * KiB} ${patternSha(73, 256 * KiB)}`];
  return { order: sha256(got.join('\n')), last: got[300], count: 301, clientClose: '4000 sim done', serverClose: '4000 sim done' };
}

/** mqtt: an aedes broker on the net's server, two clients on the net; 300 QoS 1 messages in order. */
const mqttExchange: Exchange<object> = async (sc, env) => {
  const aedes = await Aedes.createBroker();
  sc.defer(() => new Promise((r) => aedes.close(() => r(null))));
  const port = await listen(sc.net.createServer((s) => aedes.handle(s)));
  const mk = (clientId: string) => {
    const c = new MqttClient(() => sc.net.connect(port, host) as never, { clientId, protocolVersion: 4, reconnectPeriod: 0, keepalive: 30 });
    c.on('error', () => {});
    sc.defer(() => c.end(true));
    return c;
  };
  const sub = mk('sim-sub');
  await once(sub as unknown as EventEmitter, 'connect');
  await new Promise((resolve, reject) => sub.subscribe('sim/#', { qos: 1 }, (e) => (e ? reject(e) : resolve(null))));
  stamp(env, 'subscribed');
  const got: string[] = [];
  sub.on('message', (topic, m) => { got.push(`${topic} ${m.length} ${m.length > 20 ? sha256(m) : m}`); if (got.length % 50 === 0) stamp(env, `sub got ${got.length}`); });
  const pub = mk('sim-pub');
  await once(pub as unknown as EventEmitter, 'connect');
  let acked = 0;
  let allAcked: () => void = () => {};
  const acks = new Promise<void>((resolve) => { allAcked = resolve; });
  for (let i = 0; i < 300; i++) {
    const payload = i === 150 ? patternBuffer(74, 64 * KiB) : Buffer.from(`n${i}`);
    pub.publish(`sim/${i % 3}`, payload, { qos: 1 }, (e) => {
      if (!e) acked++;
      if (acked % 100 === 0) stamp(env, `acked ${acked}`);
      if (acked === 300) allAcked();
    });
  }
  await whenTrue(sub as unknown as EventEmitter, ['message'], () => got.length === 300);
  await acks;
  await new Promise((r) => pub.end(false, {}, () => r(null)));
  await new Promise((r) => sub.end(false, {}, () => r(null)));
  stamp(env, 'ended');
  return { order: sha256(got.join('\n')), count: got.length, acked, mid: got[150] };
};

function mqttExpected(): object {
  const got = Array.from({ length: 300 }, (_, i) => (i === 150 ? `sim/0 ${64 * KiB} ${patternSha(74, 64 * KiB)}` : `sim/${i % 3} ${`n${i}`.length} n${i}`));
  return { order: sha256(got.join('\n')), count: 300, acked: 300, mid: got[150] };
}

// -------------------------------------------------------------------------------------- runner

interface SimRun<R> { result: R; log: string[]; events: number }

async function onSim<R>(seed: number, exchange: Exchange<R>): Promise<SimRun<R>> {
  const sim = createStack({ backend: 'sim', seed, latency: [1, 5], chunk: [1, 16 * KiB] });
  const log: string[] = [];
  const result = await scoped(`sim seed ${seed}`, sim as unknown as Net, (sc) => exchange(sc, { now: () => sim.now(), log }), 15000);
  let t: NodeJS.Timeout | undefined;
  await Promise.race([sim.run(), new Promise((r) => { t = setTimeout(r, 5000); })]);
  clearTimeout(t);
  return { result, log, events: sim.network!.stats.events };
}

function onReal<R>(lib: string, net: Net, exchange: Exchange<R>): Promise<R> {
  return scoped(lib, net, (sc) => exchange(sc, { now: () => null, log: [] }), 15000);
}

function simCase<R>(name: string, exchange: Exchange<R>, expected: () => R): void {
  test(`sim: ${name}: the same results as on real sockets; one seed, one event log`, { timeout: 60000 }, async (t) => {
    let real: R | null = null;
    await t.test('node:net, real sockets', async () => {
      real = await onReal('node:net', nodeNet, exchange);
      assert.deepStrictEqual(real, expected());
    });
    await t.test('wasinet, real sockets', async () => {
      assert.deepStrictEqual(await onReal('wasinet', wasinet, exchange), expected());
    });
    let first: SimRun<R> | null = null;
    await t.test('wasinet sim, seed 7', async () => {
      first = await onSim(7, exchange);
      assert.deepStrictEqual(first.result, expected());
      assert.ok(first.log.length >= 3, `the exchange logged its steps (${first.log.length})`);
    });
    await t.test('wasinet sim, seed 7 again: the identical event log, virtual times included', async () => {
      const again = await onSim(7, exchange);
      assert.deepStrictEqual(again.result, expected());
      assert.ok(first, 'the first seed-7 run finished');
      assert.deepStrictEqual(again.log, first!.log);
      assert.equal(again.events, first!.events);
    });
    await t.test('wasinet sim, seed 8: the same results, another log', async () => {
      const other = await onSim(8, exchange);
      assert.deepStrictEqual(other.result, expected());
      if (first) assert.notDeepStrictEqual(other.log, first!.log);
    });
  });
}

simCase('http server fed by sim sockets, http client through an Agent on sim sockets', httpExchange, httpExpected);
simCase('ws server and client on sim sockets', wsExchange, wsExpected);
simCase('aedes broker and mqtt.js clients on sim sockets', mqttExchange, mqttExpected);
