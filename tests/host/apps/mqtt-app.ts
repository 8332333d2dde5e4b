// An unmodified program: an aedes MQTT broker on node:net and an mqtt.js client (which imports
// `net` itself) publishing to itself. Nothing in it knows of wasinet; tests/host/register.test.ts
// runs it under `node --import wasinet/register` / `--require wasinet/register`.
// It prints one JSON line: what the client received, and whether `net` was node's own (a test
// that the hook reached this file too: wasinet's Socket is not node's).
import net from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { UniqueMessageIdProvider } from 'mqtt';

const aedes = await Aedes.createBroker();
const server = net.createServer(aedes.handle);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as net.AddressInfo;
  // MQTT_DEFAULTS: mqtt.js as most programs use it, with a random client id and a random first
  // message id (Math.random): a recording keeps its randomness, so it replays all the same.
  const client = process.env.MQTT_DEFAULTS ? mqtt.connect(`mqtt://127.0.0.1:${port}`) : mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: process.env.MQTT_CLIENT_ID ?? 'register-test', reconnectPeriod: 0, keepalive: 0,
    // Message ids from 1 rather than from a random start: a run then writes the same bytes.
    messageIdProvider: new UniqueMessageIdProvider(),
  });
  const got: string[] = [];
  client.on('connect', () => {
    client.subscribe('greetings', () => {
      // QoS 1: each PUBLISH carries a message id.
      for (let i = 0; i < 3; i++) client.publish('greetings', `hello ${i}`, { qos: 1 });
    });
  });
  client.on('message', (_topic, msg) => {
    got.push(String(msg));
    if (got.length < 3) return;
    client.end(() => {
      server.close();
      aedes.close(() => {
        console.log(JSON.stringify({ got, nodeNet: net.Socket.toString().includes('[native code]') || net.Socket.name === 'Socket' && !('createStack' in net) }));
      });
    });
  });
  client.on('error', (err) => { console.error(err); process.exitCode = 2; });
});
