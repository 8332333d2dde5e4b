// An unmodified program: a ws WebSocket server (on an http.Server fed from a `net` server, as
// docs/replay.md shows) and a ws client (which connects through `net` itself), echoing messages.
// Its writes carry randomness of every kind a program draws: ws's handshake key
// (crypto.randomBytes) and each frame's mask (crypto.randomFillSync), and in the messages
// Math.random, crypto.randomUUID, crypto.randomInt, crypto.getRandomValues, globalThis.crypto's
// randomUUID and an asynchronous crypto.randomBytes. tests/host/replay-random.test.ts records it
// under `--import wasinet/register` and replays it.
// It prints one JSON line: the messages echoed back.
import net from 'node:net';
import http from 'node:http';
import { randomUUID, getRandomValues, randomBytes, randomInt } from 'node:crypto';
import { WebSocketServer, WebSocket } from 'ws';

const web = http.createServer();
const wss = new WebSocketServer({ server: web });
wss.on('connection', (s) => s.on('message', (m, binary) => s.send(m, { binary })));
const server = net.createServer((s) => web.emit('connection', s));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as net.AddressInfo;
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  const echoed: string[] = [];
  ws.on('open', () => {
    for (let i = 0; i < 5; i++) {
      ws.send(`${i} ${Math.random().toFixed(9)} ${randomUUID()} ${randomInt(1_000_000)} ${globalThis.crypto.randomUUID()}`);
    }
    ws.send(Buffer.from(getRandomValues(new Uint8Array(16))));
    randomBytes(16, (err, b) => {
      if (err) throw err;
      ws.send(b);
    });
  });
  ws.on('message', (m: Buffer, binary: boolean) => {
    echoed.push(binary ? m.toString('hex') : String(m));
    if (echoed.length === 7) ws.close();
  });
  ws.on('close', () => {
    server.close();
    wss.close();
    web.close();
    console.log(JSON.stringify({ echoed }));
  });
  ws.on('error', (err) => { console.error(err); process.exitCode = 2; });
});
