// A random differential scenario of Node's own http over a net library: node:net or wasinet.
//   node scripts/random-diff/http.mjs <node|wasi> <seed>      (after `npm run build`)
// prints the scenario's event log; scripts/random-diff/run.sh compares the two libraries over a
// range of seeds. An http.Server is fed by `emit('connection')` from the library's server, and
// clients go through an http.Agent whose createConnection is the library's; a seed picks the
// agent (keep-alive, maxSockets), the server's keepAliveTimeout and timeout, and per request the
// method, body size, response status, size, chunking, delays, an abort at a set point and a kill
// on the server's side. Both ends live in one process on loopback, so some orders are timing:
// run.sh counts a seed only when wasinet's log is none of up to four node:net logs.
// (docs/design.md, "Behaviour found by random differential runs".)
import http from 'node:http';
import { library, seeded, sleep, hash } from './common.mjs';
const [, , which, seedArg] = process.argv;
const net = await library(which);
const { rnd, ri, pick } = seeded(seedArg);
const log = [];
const t0 = Date.now();
const L = (...a) => log.push(a.join(' '));

const cfg = {
  keepAliveTimeout: pick([50, 200, 5000]),
  keepAlive: rnd() < 0.6,
  maxSockets: pick([1, 2, Infinity]),
  requests: ri(1, 6),
  serverTimeout: pick([0, 0, 120]),
  noDelay: rnd() < 0.5,
};
L('cfg', JSON.stringify(cfg));
const server = http.createServer({ keepAliveTimeout: cfg.keepAliveTimeout }, (req, res) => {
  const id = req.headers['x-id'];
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('aborted', () => L('srv aborted', id));
  req.on('error', (e) => L('srv req error', id, e.code));
  res.on('close', () => L('srv res close', id, res.writableFinished));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    L('srv got', id, req.method, req.url, body.length, hash(body));
    const plan = JSON.parse(req.headers['x-plan']);
    if (plan.delay) await sleep(plan.delay);
    if (plan.kill === 'before') { req.socket.destroy(); return; }
    const size = plan.size;
    const body2 = Buffer.alloc(size, id.charCodeAt(0));
    if (plan.chunked) {
      res.writeHead(plan.status, { 'x-r': id });
      let off = 0;
      while (off < size) { const n = Math.min(size - off, plan.piece); res.write(body2.subarray(off, off + n)); off += n; if (plan.gap) await sleep(plan.gap); if (plan.kill === 'mid' && off >= size / 2) { req.socket.destroy(); return; } }
      res.end();
    } else {
      res.writeHead(plan.status, { 'x-r': id, 'content-length': size });
      res.end(body2);
    }
  });
});
if (cfg.serverTimeout) server.setTimeout(cfg.serverTimeout, (s) => { L('srv timeout'); s.destroy(); });
server.on('clientError', (e, s) => { L('srv clientError', e.code); s.destroy(); });
const front = net.createServer({ noDelay: cfg.noDelay }, (s) => { L('front conn'); s.on('close', () => L('front close')); server.emit('connection', s); });
await new Promise((r) => front.listen(0, '127.0.0.1', r));
const port = front.address().port;
{ // warm-up: one connection through the library, not logged
  const w = net.createServer((s) => s.end('x'));
  await new Promise((r) => w.listen(0, '127.0.0.1', r));
  const c = net.connect(w.address().port, '127.0.0.1'); c.resume();
  await new Promise((r) => c.on('close', r)); await new Promise((r) => w.close(r));
  log.length = 0; L('cfg', JSON.stringify(cfg));
}
const agent = new http.Agent({ keepAlive: cfg.keepAlive, maxSockets: cfg.maxSockets });
agent.createConnection = (opts, cb) => net.createConnection(opts, cb);
const pending = [];
for (let i = 0; i < cfg.requests; i++) {
  const id = String.fromCharCode(97 + i);
  const plan = { delay: pick([0, 0, 50, 100]), status: pick([200, 201, 404, 500]), size: pick([0, 10, 5000, 70000, 300000]), chunked: rnd() < 0.5, piece: pick([100, 4096, 65536]), gap: pick([0, 0, 5]), kill: pick([null, null, null, null, 'before', 'mid']) };
  const method = pick(['GET', 'POST', 'PUT']);
  const reqBody = method === 'GET' ? 0 : pick([0, 100, 20000, 200000]);
  const abortAt = pick([null, null, null, null, 'sync', 'response', 'data', 'socket']);
  const timeoutMs = pick([0, 0, 0, 75]);
  L('plan', id, method, reqBody, abortAt, timeoutMs, JSON.stringify(plan));
  pending.push(new Promise((done) => {
    const req = http.request({ port, host: '127.0.0.1', method, path: '/' + id, agent, headers: { 'x-id': id, 'x-plan': JSON.stringify(plan) } });
    req.on('socket', (s) => { L('cli socket', id); if (abortAt === 'socket') { L('cli abort', id); req.destroy(); } });
    if (timeoutMs) req.setTimeout(timeoutMs, () => { L('cli timeout', id); req.destroy(); });
    req.on('response', (res) => {
      L('cli response', id, res.statusCode, res.headers['x-r'], res.headers['content-length'] ?? 'chunked', req.reusedSocket);
      if (abortAt === 'response') { L('cli abort', id); req.destroy(); }
      const got = [];
      res.on('data', (d) => { got.push(d); if (abortAt === 'data' && got.length === 1) { L('cli abort', id); req.destroy(); } });
      res.on('end', () => { const b = Buffer.concat(got); L('cli end', id, b.length, hash(b)); });
      res.on('aborted', () => L('cli aborted', id));
      res.on('error', (e) => L('cli res error', id, e.code));
      res.on('close', () => { L('cli res close', id); });
    });
    req.on('error', (e) => L('cli error', id, e.code));
    req.on('close', () => { L('cli close', id); done(); });
    if (reqBody) { const b = Buffer.alloc(reqBody, 120); req.end(b); } else req.end();
    if (abortAt === 'sync') { L('cli abort', id); req.destroy(); }
  }));
  await sleep(ri(0, 1) ? 0 : 25);
}
const to = setTimeout(() => { L('TIMEOUT'); finish(); }, 5000);
await Promise.all(pending);
clearTimeout(to);
await sleep(30);
finish();
function finish() {
  agent.destroy();
  front.close();
  server.close();
  setTimeout(() => { console.log(log.join('\n')); process.exit(0); }, 30);
}
