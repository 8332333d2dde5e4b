// Consumers: ws on a `net`. `new WebSocketServer({ server: httpServer })` where the http server is
// fed the lib's sockets; clients `new WebSocket(url, { createConnection: () => net.connect(...) })`.
// Every case runs with node:net and with wasinet as the lib (consumers/util.ts).
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { both, feed, patternBuffer, patternSha, sha256, once, until, MiB, type Scope } from './consumers/util.js';

const host = '127.0.0.1';
const N = 5000;
const BIG = 16 * MiB;

/** A ws server on an http server fed by the lib; resolves with the port and the server. */
async function wsServer(sc: Scope, options: WebSocket.ServerOptions = {}) {
  const httpServer = http.createServer((req, res) => res.end('not a websocket'));
  const wss = new WebSocketServer({ server: httpServer, ...options });
  sc.defer(() => new Promise((r) => { for (const c of wss.clients) { c.on('error', () => {}); c.terminate(); } wss.close(() => r(null)); }));
  const port = await feed(sc, httpServer);
  return { port, wss };
}

function client(sc: Scope, port: number, options: WebSocket.ClientOptions = {}): WebSocket {
  const ws = new WebSocket(`ws://localhost:${port}/chat`, {
    createConnection: () => sc.net.connect(port, host),
    perMessageDeflate: false,
    ...options,
  } as WebSocket.ClientOptions);
  sc.defer(() => { ws.on('error', () => {}); ws.terminate(); });
  return ws;
}

/** Waits for a socket's 'close'; resolves with the code and reason it gives. */
function closeOf(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve(`${code} ${reason.toString()}`)));
}

both('ws on the lib both sides: 5,000 messages echoed in order, a 16 MiB message each way, close 4001 with a reason', { timeout: 20000 }, async (sc) => {
  const { port, wss } = await wsServer(sc);
  let serverClose: Promise<string> | null = null;
  let serverOrder = 0;
  let serverOutOfOrder = 0;
  wss.on('connection', (ws, req) => {
    serverClose = closeOf(ws);
    ws.send(`hello ${req.url}`);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        // The big one: answer with its digest, then a big message of our own.
        ws.send(`got ${data.length} ${sha256(data)}`);
        ws.send(patternBuffer(32, BIG));
        return;
      }
      const text = data.toString();
      if (text !== `m${serverOrder++}`) serverOutOfOrder++;
      ws.send(`echo ${text}`);
    });
  });
  const ws = client(sc, port);
  const clientClose = closeOf(ws);
  const texts: string[] = [];
  let bigDigest = '';
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) bigDigest = `${data.length} ${sha256(data)}`;
    else texts.push(data.toString());
  });
  await once(ws, 'open');
  for (let i = 0; i < N; i++) ws.send(`m${i}`);
  await until(() => texts.length === N + 1, 10000, `${N} echoes`);
  ws.send(patternBuffer(31, BIG));
  await until(() => bigDigest !== '', 10000, 'the big message back');
  ws.close(4001, 'done here');
  const [c, s] = await Promise.all([clientClose, until(() => serverClose !== null).then(() => serverClose!)]);
  // The messages in order: summarised (all 5,001 would make a huge diff), the first and last in full.
  const echoes = texts.slice(0, N + 1);
  return {
    count: texts.length, first: echoes.slice(0, 3), last: echoes.slice(-2),
    order: createHash('sha256').update(echoes.join('\n')).digest('hex'), serverOutOfOrder,
    bigAck: texts[N + 1] ?? null, bigBack: bigDigest,
    close: { client: c, server: s }, protocol: ws.protocol, extensions: ws.extensions,
  };
}, (r) => {
  const expected = [`hello /chat`, ...Array.from({ length: N }, (_, i) => `echo m${i}`)];
  assert.equal(r.count, N + 2);
  assert.deepEqual(r.first, expected.slice(0, 3));
  assert.deepEqual(r.last, expected.slice(-2));
  assert.equal(r.order, createHash('sha256').update(expected.join('\n')).digest('hex'), 'the messages arrived in order');
  assert.equal(r.serverOutOfOrder, 0);
  assert.equal(r.bigAck, `got ${BIG} ${patternSha(31, BIG)}`);
  assert.equal(r.bigBack, `${BIG} ${patternSha(32, BIG)}`);
  assert.deepEqual(r.close, { client: '4001 done here', server: '4001 done here' });
  assert.equal(r.protocol, '');
  assert.equal(r.extensions, '');
});

both('ws on the lib: a 4 MiB message is acknowledged, a server close 1008 with a reason, and an abrupt socket end gives 1006', { timeout: 15000 }, async (sc) => {
  const { port, wss } = await wsServer(sc);
  const serverCloses: string[] = [];
  wss.on('connection', (ws, req) => {
    ws.on('close', (code: number, reason: Buffer) => serverCloses.push(`${req.url} ${code} ${reason.toString()}`));
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (req.url === '/policy') ws.close(1008, 'policy violated');
      else if (req.url === '/abrupt') ws.terminate();
      else ws.send(`got ${data.length} ${sha256(data)} ${text.length > 10 ? '' : text}`);
    });
  });
  const results: Record<string, string[]> = {};
  for (const path of ['/ack', '/policy', '/abrupt']) {
    const ws = new WebSocket(`ws://localhost:${port}${path}`, { createConnection: () => sc.net.connect(port, host), perMessageDeflate: false } as WebSocket.ClientOptions);
    sc.defer(() => { ws.on('error', () => {}); ws.terminate(); });
    const log: string[] = [];
    ws.on('message', (d: Buffer) => log.push(`message ${d.toString()}`));
    ws.on('error', (e: NodeJS.ErrnoException) => log.push(`error ${e.code ?? e.message}`));
    const closed = closeOf(ws).then((c) => { log.push(`close ${c}`); });
    await once(ws, 'open');
    ws.send(path === '/ack' ? patternBuffer(33, 4 * MiB) : 'hi');
    if (path === '/ack') { await until(() => log.length > 0, 10000, 'the ack'); ws.close(); }
    await closed;
    results[path] = log;
  }
  await until(() => serverCloses.length === 3, 3000, 'the server saw every close');
  return { results, serverCloses: serverCloses.sort() };
}, (r) => {
  assert.deepEqual(r.results, {
    '/ack': [`message got ${4 * MiB} ${patternSha(33, 4 * MiB)} `, 'close 1005 '],
    '/policy': ['close 1008 policy violated'],
    '/abrupt': ['close 1006 '],
  });
  assert.deepEqual(r.serverCloses, ['/abrupt 1006 ', '/ack 1005 ', '/policy 1008 policy violated']);
});

both('ws on the lib with permessage-deflate: 1,000 compressible messages and one 1 MiB one, in order', { timeout: 15000 }, async (sc) => {
  const { port, wss } = await wsServer(sc, { perMessageDeflate: true });
  wss.on('connection', (ws) => ws.on('message', (d: Buffer) => ws.send(`${d.length} ${sha256(d)}`)));
  const ws = client(sc, port, { perMessageDeflate: true });
  const got: string[] = [];
  ws.on('message', (d: Buffer) => got.push(d.toString()));
  await once(ws, 'open');
  const sent: string[] = [];
  for (let i = 0; i < 1000; i++) { const m = `message number ${i} `.repeat(1 + (i % 20)); sent.push(m); ws.send(m); }
  const big = 'all work and no play makes a dull boy '.repeat(Math.ceil(MiB / 38)).slice(0, MiB);
  sent.push(big);
  ws.send(big);
  await until(() => got.length === 1001, 10000, '1,001 answers');
  const clientClose = closeOf(ws);
  ws.close(1000, 'bye');
  return { extensions: ws.extensions, answers: sha256(got.join('\n')), last: got[1000], close: await clientClose, expected: sha256(sent.map((m) => `${Buffer.byteLength(m)} ${sha256(m)}`).join('\n')) };
}, (r) => {
  assert.equal(r.extensions, 'permessage-deflate');
  assert.equal(r.answers, r.expected);
  assert.match(r.last, new RegExp(`^${MiB} [0-9a-f]{64}$`));
  assert.equal(r.close, '1000 bye');
});
