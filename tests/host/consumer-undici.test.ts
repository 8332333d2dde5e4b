// Consumers: undici on a `net`. `new Client(origin, { connect })` / `new Pool(...)` whose connect
// gives the lib's sockets, against a node:http server on node:net. undici reads in paused mode
// ('readable', socket.read(), socket.unshift()) and corks its writes. Every case runs with
// node:net and with wasinet as the lib (consumers/util.ts).
import assert from 'node:assert/strict';
import http from 'node:http';
import type nodeNet from 'node:net';
import { Client, Pool, type Dispatcher } from 'undici';
import {
  both, whenBody, patternChunks, patternBuffer, patternSha, writeAll, sha256, MiB, type Scope, type Sock,
} from './consumers/util.js';

const host = '127.0.0.1';

/** undici's `connect` option giving the lib's sockets; counts them. */
function libConnect(sc: Scope, made: Sock[]) {
  return (opts: { hostname: string; port: string | number }, cb: (err: Error | null, socket: nodeNet.Socket | null) => void) => {
    const s = sc.net.connect(Number(opts.port), opts.hostname === 'localhost' ? host : opts.hostname);
    made.push(s);
    const onError = (e: Error) => cb(e, null);
    s.once('error', onError);
    s.once('connect', () => { s.off('error', onError); cb(null, s); });
    return s;
  };
}

/** The reference server: /big/N answers N bytes of pattern(40), else `${method} ${url} ${bytes} ${sha}`. */
async function server(sc: Scope) {
  const conns: Sock[] = [];
  let requests = 0;
  const hs = http.createServer((req, res) => {
    requests++;
    whenBody(req, (d) => {
      const big = /^\/big\/(\d+)$/.exec(req.url!);
      if (big) { res.setHeader('content-length', big[1]); void writeAll(res, patternChunks(40, Number(big[1]))); }
      else res.end(`${req.method} ${req.url} ${d.bytes} ${d.sha}`);
    });
  });
  hs.on('connection', (s: Sock) => conns.push(s));
  const port = await sc.listen(hs);
  return { port, conns, requests: () => requests };
}

async function summary(d: Dispatcher, opts: Dispatcher.RequestOptions): Promise<string> {
  const r = await d.request(opts);
  const body = Buffer.from(await r.body.arrayBuffer());
  return `${r.statusCode} ${body.length} ${body.length <= 200 ? body.toString() : sha256(body)}`;
}

function echo(method: string, path: string, body: Buffer | string = ''): string {
  const text = `${method} ${path} ${Buffer.byteLength(body)} ${sha256(body)}`;
  return `200 ${text.length} ${text}`;
}

both('undici Client on lib sockets, pipelining 10: 200 requests at once (GETs, POSTs, 1 MiB answers) on one connection, bodies verified', { timeout: 15000 }, async (sc) => {
  const { port, conns, requests } = await server(sc);
  const made: Sock[] = [];
  const client = new Client(`http://localhost:${port}`, { connect: libConnect(sc, made) as never, pipelining: 10 });
  sc.defer(() => client.destroy());
  const plan = Array.from({ length: 200 }, (_, i): Dispatcher.RequestOptions =>
    i % 10 === 3 ? { method: 'GET', path: `/big/${MiB}` }
      : i % 4 === 1 ? { method: 'POST', path: `/p${i}`, body: `body of ${i}`.repeat(i) }
        : { method: 'GET', path: `/g${i}` });
  const out = await Promise.all(plan.map((o) => summary(client, o)));
  await client.close();
  return { out, connections: conns.length, made: made.length, requests: requests() };
}, (r) => {
  assert.deepEqual(r.out, Array.from({ length: 200 }, (_, i) =>
    i % 10 === 3 ? `200 ${MiB} ${patternSha(40, MiB)}`
      : i % 4 === 1 ? echo('POST', `/p${i}`, `body of ${i}`.repeat(i)) : echo('GET', `/g${i}`)));
  assert.deepEqual({ connections: r.connections, made: r.made, requests: r.requests }, { connections: 1, made: 1, requests: 200 });
});

both('undici Client on lib sockets: 8 MiB bodies up (one buffer, after a small request on the same socket) and down', { timeout: 15000 }, async (sc) => {
  const { port, conns } = await server(sc);
  const client = new Client(`http://localhost:${port}`, { connect: libConnect(sc, []) as never, pipelining: 1 });
  sc.defer(() => client.destroy());
  const out: string[] = [];
  out.push(await summary(client, { method: 'POST', path: '/small', body: 'tiny' }));
  out.push(await summary(client, { method: 'POST', path: '/up', body: patternBuffer(41, 8 * MiB) }));
  out.push(await summary(client, { method: 'GET', path: `/big/${8 * MiB}` }));
  await client.close();
  return { out, connections: conns.length };
}, (r) => {
  const up = `POST /up ${8 * MiB} ${patternSha(41, 8 * MiB)}`;
  assert.deepEqual(r, {
    out: [echo('POST', '/small', 'tiny'), `200 ${up.length} ${up}`, `200 ${8 * MiB} ${patternSha(40, 8 * MiB)}`],
    connections: 1,
  });
});

both('undici Pool on lib sockets (3 connections): 100 concurrent requests spread over at most 3 sockets', { timeout: 15000 }, async (sc) => {
  const { port, conns } = await server(sc);
  const made: Sock[] = [];
  const pool = new Pool(`http://localhost:${port}`, { connect: libConnect(sc, made) as never, connections: 3, pipelining: 2 });
  sc.defer(() => pool.destroy());
  const out = await Promise.all(Array.from({ length: 100 }, (_, i) => summary(pool, { method: 'GET', path: `/q${i}` })));
  await pool.close();
  return { out, connections: conns.length, made: made.length };
}, (r) => {
  assert.deepEqual(r, { out: Array.from({ length: 100 }, (_, i) => echo('GET', `/q${i}`)), connections: 3, made: 3 });
});
