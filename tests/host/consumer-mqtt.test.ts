// Consumers: MQTT on a `net`. An aedes broker on the lib's server (`net.createServer(aedes.handle)`),
// mqtt.js clients made with `new MqttClient(() => net.connect(...), options)` (mqtt 5's way to give
// a client its stream). Every case runs with node:net and with wasinet as the lib (consumers/util.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { Aedes } from 'aedes';
import { MqttClient, type IClientOptions } from 'mqtt';
import { both, once, until, sleep, sha256, patternBuffer, KiB, type Scope, type Sock } from './consumers/util.js';

const host = '127.0.0.1';
const N = 5000;

async function broker(sc: Scope) {
  const aedes = await Aedes.createBroker();
  sc.defer(() => new Promise((r) => aedes.close(() => r(null))));
  const sockets: Sock[] = [];
  const server = sc.net.createServer((s) => { sockets.push(s); aedes.handle(s); });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as { port: number }).port));
  });
  return { aedes, port, sockets };
}

function connected(c: MqttClient): Promise<unknown[]> {
  return once(c as unknown as EventEmitter, 'connect');
}

function client(sc: Scope, port: number, options: IClientOptions): MqttClient {
  const c = new MqttClient(() => sc.net.connect(port, host) as never, { reconnectPeriod: 0, keepalive: 30, ...options });
  sc.defer(() => c.end(true));
  c.on('error', () => {});
  return c;
}

/** The payload of message i: mostly small, every 500th 64 KiB (crossing read chunks). */
function payload(i: number): Buffer {
  return i % 500 === 499 ? Buffer.concat([Buffer.from(`big ${i} `), patternBuffer(50 + (i % 7), 64 * KiB)]) : Buffer.from(`msg ${i}`);
}

both('aedes on the lib, mqtt.js clients on lib sockets: 5,000 QoS 1 messages arrive in order, every PUBACK comes back', { timeout: 20000 }, async (sc) => {
  const { port, aedes } = await broker(sc);
  let brokerPublished = 0;
  aedes.on('publish', (packet, c) => { if (c && packet.topic === 'bench/t') brokerPublished++; });
  const sub = client(sc, port, { clientId: 'sub', protocolVersion: 4 });
  await connected(sub);
  const granted = await new Promise<string>((resolve, reject) =>
    sub.subscribe('bench/#', { qos: 1 }, (err, g) => (err ? reject(err) : resolve(JSON.stringify(g)))));
  const got: Buffer[] = [];
  sub.on('message', (topic, message, packet) => { if (packet.qos === 1 && topic === 'bench/t') got.push(message); });
  const pub = client(sc, port, { clientId: 'pub', protocolVersion: 4 });
  await connected(pub);
  let acked = 0;
  const ackErrors: string[] = [];
  for (let i = 0; i < N; i++) {
    pub.publish('bench/t', payload(i), { qos: 1 }, (err) => { if (err) ackErrors.push(err.message); else acked++; });
  }
  await until(() => got.length === N && acked === N, 15000, `${N} messages and ${N} PUBACKs`);
  const order = createHash('sha256');
  for (const m of got) order.update(sha256(m));
  await new Promise((r) => pub.end(false, {}, () => r(null)));
  await new Promise((r) => sub.end(false, {}, () => r(null)));
  return {
    granted, count: got.length, acked, ackErrors, brokerPublished,
    first: got[0].toString(), order: order.digest('hex'), bytes: got.reduce((n, m) => n + m.length, 0),
  };
}, (r) => {
  const order = createHash('sha256');
  let bytes = 0;
  for (let i = 0; i < N; i++) { const p = payload(i); order.update(sha256(p)); bytes += p.length; }
  assert.deepEqual(r, {
    granted: JSON.stringify([{ topic: 'bench/#', qos: 1 }]), count: N, acked: N, ackErrors: [], brokerPublished: N,
    first: 'msg 0', order: order.digest('hex'), bytes,
  });
});

both('aedes on the lib, MQTT 3.1.1 clients on lib sockets: retained message, QoS 2 exactly once, last will on an abrupt disconnect', { timeout: 15000 }, async (sc) => {
  const { port } = await broker(sc);
  const log: string[] = [];
  const pub = client(sc, port, { clientId: 'pub4', protocolVersion: 4 });
  await connected(pub);
  await new Promise((resolve, reject) => pub.publish('state/door', 'open', { qos: 1, retain: true }, (e) => (e ? reject(e) : resolve(null))));
  const sub = client(sc, port, { clientId: 'sub4', protocolVersion: 4 });
  sub.on('message', (topic, message, packet) => log.push(`${topic} ${message} qos=${packet.qos} retain=${packet.retain}`));
  await connected(sub);
  const granted = await new Promise<string>((resolve, reject) =>
    sub.subscribe(['state/#', 'will/#', 'q2/#'], { qos: 2 }, (err, g) => (err ? reject(err) : resolve(g!.map((x) => `${x.topic}:${x.qos}`).join(',')))));
  await until(() => log.length === 1, 5000, 'the retained message');
  for (let i = 0; i < 20; i++) pub.publish('q2/x', `exactly once ${i}`, { qos: 2 });
  await until(() => log.length === 21, 5000, '20 QoS 2 messages');
  // A client with a will whose socket is destroyed (no DISCONNECT): the broker publishes the will.
  const dying = client(sc, port, { clientId: 'dying', protocolVersion: 4, will: { topic: 'will/dying', payload: Buffer.from('gone'), qos: 1, retain: false } });
  await connected(dying);
  (dying.stream as unknown as Sock).destroy();
  await until(() => log.length === 22, 5000, 'the will');
  await sleep(50);
  await new Promise((r) => pub.end(false, {}, () => r(null)));
  await new Promise((r) => sub.end(false, {}, () => r(null)));
  return { granted, log };
}, (r) => {
  assert.deepEqual(r, {
    granted: 'state/#:2,will/#:2,q2/#:2',
    log: ['state/door open qos=1 retain=true', ...Array.from({ length: 20 }, (_, i) => `q2/x exactly once ${i} qos=2 retain=false`),
      'will/dying gone qos=1 retain=false'],
  });
});
