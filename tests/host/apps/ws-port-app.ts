// An unmodified program: a ws WebSocketServer that listens on a port of its own (ws makes the
// http.Server and calls listen) and a ws client, exchanging messages that carry Math.random.
// Under `wasinet/register` both ends are wasinet's: the client through `net`, the server
// through Node's http, which the hook routes (host/register/http.ts). tests/host/register.test.ts
// records it and replays it. It prints one JSON line: the messages echoed back.
import { WebSocketServer, WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
wss.on('connection', (s) => s.on('message', (m) => s.send(`echo ${m} ${Math.random().toFixed(6)}`)));
wss.on('listening', () => {
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const got: string[] = [];
  ws.on('open', () => { for (let i = 0; i < 3; i++) ws.send(`m${i}`); });
  ws.on('message', (d) => {
    got.push(String(d));
    if (got.length < 3) return;
    ws.close();
    wss.close();
    console.log(JSON.stringify(got));
  });
});
