// Consumers: node:http on a `net`. Server side: `net.createServer((s) => httpServer.emit('connection', s))`
// with a non-listening http.Server; the client is a fixed reference (node:http on node:net, or a raw
// node:net socket). Client side: http.request with `createConnection`, and an http.Agent whose
// createConnection is the lib's, against a node:http server on node:net. Every case runs with
// node:net and with wasinet as the lib and the results must be equal (see consumers/util.ts).
import assert from 'node:assert/strict';
import http from 'node:http';
import nodeNet from 'node:net';
import {
  both, feed, rawExchange, parseResponses, fetchHttp, whenBody, patternChunks, patternBuffer, patternSha, writeAll,
  sha256, once, until, sleep, codeOf, KiB, MiB, type Scope, type Sock, type Net,
} from './consumers/util.js';

const host = '127.0.0.1';

/** An http.Agent whose sockets come from the lib under test. */
function libAgent(net: Net, options: http.AgentOptions): http.Agent & { created: number } {
  const agent = new http.Agent(options) as http.Agent & { created: number };
  agent.created = 0;
  (agent as unknown as { createConnection: Function }).createConnection = (opts: nodeNet.NetConnectOpts, cb: () => void) => {
    agent.created++;
    return net.createConnection(opts, cb);
  };
  return agent;
}

/** What fetchHttp's summary line is for a response `${method} ${path} ${bytes} ${sha}` (status 200). */
function echoLine(reused: boolean, method: string, path: string, bytes: number, sha: string): string {
  const text = `${method} ${path} ${bytes} ${sha}`;
  return `200 ${reused} ${text.length} ${text}`;
}

/** A node:http server on node:net (the reference server for the client-side cases). */
async function nodeHttpServer(sc: Scope, handler: http.RequestListener) {
  const hs = http.createServer(handler);
  const conns: Sock[] = [];
  hs.on('connection', (s: Sock) => conns.push(s));
  const port = await sc.listen(hs);
  return { hs, port, conns };
}

// ------------------------------------------------------------------------------- server side

both('http server fed by the lib: 100 sequential requests keep-alive on one connection', { timeout: 15000 }, async (sc) => {
  const hs = http.createServer((req, res) => {
    whenBody(req, (d) => res.end(`${req.method} ${req.url} ${d.bytes} ${req.socket === seen ? 'same' : 'new'}`));
  });
  let seen: unknown = null;
  let connections = 0;
  hs.on('connection', (s) => { connections++; seen = s; });
  const port = await feed(sc, hs);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  sc.defer(() => agent.destroy());
  const answers: string[] = [];
  for (let i = 0; i < 100; i++) {
    const post = i % 3 === 1;
    const r = await fetchHttp({ port, host, agent, method: post ? 'POST' : 'GET', path: `/r${i}` },
      post ? [Buffer.alloc(100 + i, i)] : null);
    answers.push(`${r.status} ${r.reused ? 'reused' : 'fresh'} ${r.text}`);
  }
  return { connections, answers };
}, (r) => {
  assert.equal(r.connections, 1);
  assert.equal(r.answers.length, 100);
  r.answers.forEach((a, i) => {
    const post = i % 3 === 1;
    assert.equal(a, `200 ${i === 0 ? 'fresh' : 'reused'} ${post ? 'POST' : 'GET'} /r${i} ${post ? 100 + i : 0} same`);
  });
});

both('http server fed by the lib: pipelined requests written at once get their responses in order', { timeout: 10000 }, async (sc) => {
  const hs = http.createServer((req, res) => {
    res.sendDate = false;
    const i = Number(req.url!.slice(2));
    // Later requests are answered sooner: the server must still send the responses in order.
    whenBody(req, (d) => setTimeout(() => res.end(`${req.url} ${d.bytes}`), (10 - i) * 3));
  });
  const port = await feed(sc, hs);
  const reqs: string[] = [];
  for (let i = 0; i < 10; i++) {
    const close = i === 9 ? 'Connection: close\r\n' : '';
    reqs.push(i % 4 === 2
      ? `POST /p${i} HTTP/1.1\r\nHost: x\r\nContent-Length: ${i * 10}\r\n${close}\r\n${'z'.repeat(i * 10)}`
      : `GET /p${i} HTTP/1.1\r\nHost: x\r\n${close}\r\n`);
  }
  const { got, ended } = await rawExchange(port, reqs.join(''));
  const { responses, rest } = parseResponses(got);
  return {
    ended, rest, bytes: got.length, sha: sha256(got),
    responses: responses.map((x) => `${x.status} ${x.headers.connection} ${x.body.toString()}`),
  };
}, (r) => {
  assert.equal(r.ended, 'end');
  assert.equal(r.rest, 0);
  assert.deepEqual(r.responses, Array.from({ length: 10 }, (_, i) =>
    `200 ${i === 9 ? 'close' : 'keep-alive'} /p${i} ${i % 4 === 2 ? i * 10 : 0}`));
});

both('http server fed by the lib: 64 MiB request body up, 64 MiB response down, sha256-verified', { timeout: 25000 }, async (sc) => {
  const size = 64 * MiB;
  let serverGot: { bytes: number; sha: string } | null = null;
  const hs = http.createServer((req, res) => {
    whenBody(req, (d) => {
      serverGot = d;
      res.writeHead(200, { 'content-length': size, 'x-got': `${d.bytes} ${d.sha}` });
      void writeAll(res, patternChunks(2, size));
    });
  });
  let serverSock: Sock | null = null;
  hs.on('connection', (s: Sock) => { serverSock = s; });
  const port = await feed(sc, hs);
  const r = await fetchHttp({ port, host, agent: false, method: 'PUT', path: '/big', headers: { 'content-length': size } },
    patternChunks(1, size), ['x-got']);
  const s = serverSock as unknown as Sock;
  // The lib's socket carried the bodies (it counted them), not something underneath it.
  const counted = { read: s.bytesRead > size, written: s.bytesWritten > size };
  return { status: r.status, serverGot, clientGot: { bytes: r.bytes, sha: r.sha }, header: r.headers['x-got'], counted };
}, (r) => {
  assert.deepEqual(r.counted, { read: true, written: true });
  assert.equal(r.status, 200);
  assert.deepEqual(r.serverGot, { bytes: 64 * MiB, sha: patternSha(1, 64 * MiB) });
  assert.deepEqual(r.clientGot, { bytes: 64 * MiB, sha: patternSha(2, 64 * MiB) });
  assert.equal(r.header, `${64 * MiB} ${patternSha(1, 64 * MiB)}`);
});

both('http server fed by the lib: a client aborting mid-body (FIN, then RST): aborted/error/close as in Node', { timeout: 10000 }, async (sc) => {
  const events: string[][] = [[], []];
  const received = [0, 0];
  const clientErrors: string[] = [];
  const hs = http.createServer((req, res) => {
    const k = req.url === '/fin' ? 0 : 1;
    const log = events[k];
    req.on('data', (d: Buffer) => { received[k] += d.length; });
    req.on('aborted', () => log.push('req aborted'));
    req.on('error', (e) => log.push(`req error ${codeOf(e)} ${e.message}`));
    req.on('close', () => log.push('req close'));
    res.on('close', () => log.push(`res close finished=${res.writableFinished}`));
    req.socket.on('close', () => log.push('socket close'));
  });
  hs.on('clientError', (e: Error) => clientErrors.push(codeOf(e)));
  const port = await feed(sc, hs);
  for (const [k, how] of [[0, 'fin'], [1, 'rst']] as const) {
    const c = nodeNet.connect(port, host);
    sc.track(c);
    c.on('error', () => {});
    await once(c, 'connect');
    c.write(`POST /${how} HTTP/1.1\r\nHost: x\r\nContent-Length: ${MiB}\r\n\r\n`);
    c.write(Buffer.alloc(100 * KiB, 7));
    await until(() => received[k] === 100 * KiB, 5000, `the server read 100 KiB (${how})`);
    if (how === 'fin') c.end(); else c.resetAndDestroy();
    await until(() => events[k].includes('socket close'), 5000, `the server socket closed (${how})`);
    await sleep(20);
  }
  return { received, fin: events[0], rst: events[1], clientErrors };
}, (r) => {
  assert.deepEqual(r.received, [100 * KiB, 100 * KiB]);
  for (const log of [r.fin, r.rst]) {
    assert.ok(log.includes('req aborted'), log.join(', '));
    assert.ok(log.includes('req error ECONNRESET aborted'), log.join(', '));
    assert.ok(log.includes('req close'), log.join(', '));
    assert.ok(log.includes('socket close'), log.join(', '));
  }
});

both('http server fed by the lib: server.setTimeout fires on an idle connection; keepAliveTimeout closes an idle keep-alive one', { timeout: 10000 }, async (sc) => {
  const log: string[] = [];
  const hs = http.createServer((req, res) => { res.sendDate = false; res.end('ok'); });
  hs.setTimeout(300, (s: Sock) => { log.push(`timeout ${s === hsSock}`); s.destroy(); });
  let hsSock: unknown = null;
  hs.on('connection', (s) => { hsSock = s; });
  const port = await feed(sc, hs);
  const t0 = Date.now();
  const idle = await rawExchange(port, []);                     // connects, says nothing
  const idleMs = Date.now() - t0;

  const hs2 = http.createServer((req, res) => { res.sendDate = false; res.end('ka'); });
  // Node 20 waits keepAliveTimeout + 1 s (a buffer against races with clients) before closing.
  hs2.keepAliveTimeout = 1;
  const port2 = await feed(sc, hs2);
  const t1 = Date.now();
  const ka = await rawExchange(port2, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const kaMs = Date.now() - t1;
  return {
    log, idle: { ended: idle.ended, got: idle.got.length, slow: idleMs >= 250 },
    ka: { ended: ka.ended, responses: parseResponses(ka.got).responses.map((x) => `${x.status} ${x.body}`), slow: kaMs >= 900 },
  };
}, (r) => {
  assert.deepEqual(r.log, ['timeout true']);
  assert.deepEqual(r.idle, { ended: 'end', got: 0, slow: true });
  assert.deepEqual(r.ka, { ended: 'end', responses: ['200 ka'], slow: true });
});

both('http server fed by the lib: headersTimeout/requestTimeout answer 408 to headers sent slowly', { timeout: 10000 }, async (sc) => {
  const hs = http.createServer({ headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 50 },
    (req, res) => res.end('should not get here'));
  // A non-listening http.Server tracks connections (and checks these timeouts) only after its
  // 'listening': servers fed by another net must emit it themselves.
  hs.emit('listening');
  const port = await feed(sc, hs);
  const drip = ['GET /slow HTTP/1.1\r\n', ...Array.from({ length: 15 }, (_, i) => `X-Drip-${i}: ${i}\r\n`)];
  const t0 = Date.now();
  const r = await rawExchange(port, drip, { gapMs: 100 });
  const ms = Date.now() - t0;
  const text = r.got.toString('latin1');
  return { ended: r.ended, statusLine: text.split('\r\n')[0], connection: /\r\nConnection: close\r\n/i.test(text), inTime: ms >= 250 };
}, (r) => {
  assert.deepEqual(r, { ended: 'end', statusLine: 'HTTP/1.1 408 Request Timeout', connection: true, inTime: true });
});

both('http server fed by the lib: closeIdleConnections() closes the idle connection, not the busy one', { timeout: 10000 }, async (sc) => {
  let release: (() => void) | null = null;
  const hs = http.createServer((req, res) => {
    res.sendDate = false;
    if (req.url === '/busy') release = () => res.end('busy done');
    else res.end('idle done');
  });
  hs.emit('listening');   // connection tracking for a fed server (see the headersTimeout case)
  const port = await feed(sc, hs);
  const open = async (path: string) => {
    const c = sc.track(nodeNet.connect(port, host));
    const got: Buffer[] = [];
    let closed = false;
    c.on('data', (d: Buffer) => got.push(d));
    c.on('close', () => { closed = true; });
    c.on('error', () => {});
    await once(c, 'connect');
    c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    return { got, isClosed: () => closed };
  };
  const idle = await open('/idle');
  await until(() => parseResponses(Buffer.concat(idle.got)).responses.length === 1, 5000, 'the idle response');
  const busy = await open('/busy');
  await until(() => release !== null, 5000, 'the busy request');
  hs.closeIdleConnections();
  await until(() => idle.isClosed(), 3000, 'the idle connection closed');
  await sleep(50);
  const busyOpenAfter = !busy.isClosed();
  release!();
  await until(() => parseResponses(Buffer.concat(busy.got)).responses.length === 1, 5000, 'the busy response');
  const body = (x: { got: Buffer[] }) => parseResponses(Buffer.concat(x.got)).responses.map((y) => `${y.status} ${y.body}`);
  return { idle: body(idle), idleClosed: idle.isClosed(), busyOpenAfter, busy: body(busy) };
}, (r) => {
  assert.deepEqual(r, { idle: ['200 idle done'], idleClosed: true, busyOpenAfter: true, busy: ['200 busy done'] });
});

both("http server fed by the lib: the server socket's bytesRead/bytesWritten equal the bytes the client sent and received", { timeout: 10000 }, async (sc) => {
  const counts: { read: number; written: number }[] = [];
  const hs = http.createServer((req, res) => {
    res.sendDate = false;
    whenBody(req, (d) => {
      if (req.url === '/big') res.end(patternBuffer(5, MiB));   // one large write right after the request's data
      else res.end(`${req.url} ${d.bytes} ${d.sha.slice(0, 16)}`);
    });
  });
  hs.on('connection', (s: Sock) => s.on('close', () => counts.push({ read: s.bytesRead, written: s.bytesWritten })));
  const port = await feed(sc, hs);
  const up = Buffer.concat(patternChunks(6, MiB));
  const r = await rawExchange(port, [
    'GET /a HTTP/1.1\r\nHost: x\r\n\r\n',
    `POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: ${up.length}\r\n\r\n`, up,
    'GET /big HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ], { gapMs: 5 });
  await until(() => counts.length === 1, 3000, "the server socket's close");
  const responses = parseResponses(r.got).responses;
  return {
    clientSent: r.sent, clientGot: r.got.length, server: counts[0], ended: r.ended,
    responses: responses.map((x) => `${x.status} ${x.body.length > 100 ? sha256(x.body) : x.body}`),
  };
}, (r) => {
  assert.equal(r.ended, 'end');
  assert.deepEqual(r.server, { read: r.clientSent, written: r.clientGot });
  assert.deepEqual(r.responses, ['200 /a 0 e3b0c44298fc1c14', `200 /b ${MiB} ${patternSha(6, MiB).slice(0, 16)}`,
    `200 ${patternSha(5, MiB)}`, '200 /c 0 e3b0c44298fc1c14']);
});

both('http server fed by the lib: a request followed by FIN is answered only with allowHalfOpen (lib server) and httpAllowHalfOpen', { timeout: 10000 }, async (sc) => {
  const out: Record<string, string> = {};
  for (const allowHalfOpen of [false, true]) {
    for (const httpAllowHalfOpen of [false, true]) {
      const hs = http.createServer((req, res) => { res.sendDate = false; setTimeout(() => res.end(`late ${req.url}`), 20); });
      (hs as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = httpAllowHalfOpen;   // undocumented, not in @types/node
      const port = await feed(sc, hs, { allowHalfOpen });
      const r = await rawExchange(port, 'GET /q HTTP/1.1\r\nHost: x\r\n\r\n', { end: true });
      out[`allowHalfOpen=${allowHalfOpen} httpAllowHalfOpen=${httpAllowHalfOpen}`] =
        `${r.ended} ${parseResponses(r.got).responses.map((x) => `${x.status} ${x.body}`).join(',')}`;
    }
  }
  return out;
}, (r) => {
  assert.deepEqual(r, {
    'allowHalfOpen=false httpAllowHalfOpen=false': 'end ',
    'allowHalfOpen=false httpAllowHalfOpen=true': 'end ',
    'allowHalfOpen=true httpAllowHalfOpen=false': 'end ',
    'allowHalfOpen=true httpAllowHalfOpen=true': 'end 200 late /q',
  });
});

// ------------------------------------------------------------------------------- client side

both('http client on the lib via createConnection: small GET, 8 MiB POST up, 8 MiB GET down; socket byte counts match the server', { timeout: 15000 }, async (sc) => {
  const size = 8 * MiB;
  const { port, conns } = await nodeHttpServer(sc, (req, res) => {
    whenBody(req, (d) => {
      if (req.url === '/down') { res.setHeader('content-length', size); void writeAll(res, patternChunks(8, size)); }
      else res.end(`${req.method} ${req.url} ${d.bytes} ${d.sha}`);
    });
  });
  const libSockets: Sock[] = [];
  const createConnection = (opts: nodeNet.NetConnectOpts, cb: () => void) => {
    const s = sc.net.createConnection(opts, cb);
    libSockets.push(s);
    return s;
  };
  const out: string[] = [];
  for (const [method, path, body] of [['GET', '/small', null], ['POST', '/up', patternChunks(7, size)], ['GET', '/down', null]] as const) {
    const r = await fetchHttp({ port, host, method, path, createConnection } as unknown as http.RequestOptions, body as Buffer[] | null);
    out.push(`${r.status} ${r.reused} ${r.bytes} ${r.text || r.sha}`);
  }
  await until(() => conns.every((c) => c.destroyed) && libSockets.every((s) => s.destroyed), 3000, 'every connection closed');
  return {
    out, connections: conns.length,
    // what the lib's client socket counted against what the node:net server socket counted
    counts: libSockets.map((s, i) => ({ read: s.bytesRead, written: s.bytesWritten, serverRead: conns[i].bytesRead, serverWritten: conns[i].bytesWritten })),
  };
}, (r) => {
  assert.deepEqual(r.out, [
    echoLine(false, 'GET', '/small', 0, sha256('')),
    echoLine(false, 'POST', '/up', 8 * MiB, patternSha(7, 8 * MiB)),
    `200 false ${8 * MiB} ${patternSha(8, 8 * MiB)}`,
  ]);
  assert.equal(r.connections, 3);
  for (const c of r.counts) {
    assert.equal(c.read, c.serverWritten);
    assert.equal(c.written, c.serverRead);
    assert.ok(c.written > 0 && c.read > 0);
  }
  assert.ok(r.counts[1].written > 8 * MiB && r.counts[2].read > 8 * MiB);
});

both('http client on the lib via an Agent (keepAlive, maxSockets 1): small POST then 8 MiB POST on the reused socket, 8 MiB down, again with req.end(8 MiB)', { timeout: 15000 }, async (sc) => {
  const size = 8 * MiB;
  const { port, conns } = await nodeHttpServer(sc, (req, res) => {
    whenBody(req, (d) => {
      if (req.url === '/down') { res.setHeader('content-length', size); void writeAll(res, patternChunks(10, size)); }
      else res.end(`${req.method} ${req.url} ${d.bytes} ${d.sha}`);
    });
  });
  const agent = libAgent(sc.net, { keepAlive: true, maxSockets: 1 });
  sc.defer(() => agent.destroy());
  const out: string[] = [];
  // The 8 MiB bodies go once as 64 KiB writes, once as one req.end(buffer) right after the
  // previous response ended (what users do; wasinet failed this one with 'read ENOBUFS').
  const plan: [string, string, Buffer[] | Buffer | null][] = [
    ['POST', '/small', [Buffer.from('a small body')]],
    ['POST', '/big', patternChunks(9, size)],
    ['GET', '/down', null],
    ['POST', '/small2', Buffer.from('and another')],
    ['POST', '/big2', patternBuffer(9, size)],
  ];
  for (const [method, path, body] of plan) {
    const r = await fetchHttp({ port, host, method, path, agent }, body);
    out.push(`${r.status} ${r.reused} ${r.bytes} ${r.text || r.sha}`);
  }
  return { out, connections: conns.length, created: agent.created };
}, (r) => {
  assert.deepEqual(r.out, [
    echoLine(false, 'POST', '/small', 12, sha256('a small body')),
    echoLine(true, 'POST', '/big', 8 * MiB, patternSha(9, 8 * MiB)),
    `200 true ${8 * MiB} ${patternSha(10, 8 * MiB)}`,
    echoLine(true, 'POST', '/small2', 11, sha256('and another')),
    echoLine(true, 'POST', '/big2', 8 * MiB, patternSha(9, 8 * MiB)),
  ]);
  assert.equal(r.connections, 1);
  assert.equal(r.created, 1);
});

both('http client on the lib via an Agent: maxSockets 2 is respected for 10 concurrent requests', { timeout: 10000 }, async (sc) => {
  let active = 0;
  let maxActive = 0;
  const { port, conns } = await nodeHttpServer(sc, (req, res) => {
    active++;
    maxActive = Math.max(maxActive, active);
    setTimeout(() => { active--; res.end(`done ${req.url}`); }, 15);
  });
  const agent = libAgent(sc.net, { keepAlive: true, maxSockets: 2 });
  sc.defer(() => agent.destroy());
  const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => fetchHttp({ port, host, agent, path: `/c${i}` })));
  return { texts: rs.map((x) => `${x.status} ${x.text}`), connections: conns.length, maxActive, created: agent.created };
}, (r) => {
  assert.deepEqual(r, {
    texts: Array.from({ length: 10 }, (_, i) => `200 done /c${i}`), connections: 2, maxActive: 2, created: 2,
  });
});

both("http client on the lib: the 'timeout' option emits 'timeout' on an idle request (createConnection and Agent)", { timeout: 10000 }, async (sc) => {
  const { port } = await nodeHttpServer(sc, () => { /* never answers */ });
  const agent = libAgent(sc.net, { keepAlive: true, maxSockets: 1, timeout: 200 });
  sc.defer(() => agent.destroy());
  const logs: { events: string[]; slow: boolean }[] = [];
  for (const via of ['createConnection', 'agent'] as const) {
    const events: string[] = [];
    const t0 = Date.now();
    const req = via === 'agent'
      ? http.request({ port, host, agent, path: '/t' })
      : http.request({ port, host, path: '/t', timeout: 200, createConnection: (o: nodeNet.NetConnectOpts, cb: () => void) => sc.net.createConnection(o, cb) } as unknown as http.RequestOptions);
    req.on('timeout', () => { events.push('timeout'); req.destroy(); });
    req.on('error', (e) => events.push(`error ${codeOf(e)} ${e.message}`));
    req.on('close', () => events.push('close'));
    req.end();
    await until(() => events.includes('close'), 3000, `the request closed (${via})`);
    logs.push({ events, slow: Date.now() - t0 >= 180 });
  }
  return logs;
}, (r) => {
  for (const x of r) assert.deepEqual(x, { events: ['timeout', 'error ECONNRESET socket hang up', 'close'], slow: true });
});
