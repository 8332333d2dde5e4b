// A random differential scenario of net sockets: node:net or wasinet on one side or both.
//   node scripts/random-diff/socket.mjs <node|wasi> <seed>      (after `npm run build`)
// prints the scenario's event log, one block per socket (orders between two sockets of one
// process are timing, so they are not compared); run.sh socket.mjs FROM TO compares the two
// libraries over a range of seeds. A seed picks TCP or Unix, which side uses the library,
// allowHalfOpen on each side, and a script of calls on either socket (writes of several sizes,
// end, destroy, resetAndDestroy, pause/resume, cork/uncork, setTimeout, setEncoding,
// destroySoon, server.close) made synchronously, a tick, an immediate or a timer apart; after
// each call it logs what the call returned and the socket's state, and it logs every event.
import nodeNet from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { library, seeded, sleep, hash } from './common.mjs';
const [, , which, seedArg] = process.argv;
const wasinet = which === 'wasi' ? await library(which) : null;
const { rnd, ri, pick } = seeded(seedArg);
const logs = new Map();
const L = (who, ...a) => { if (!logs.has(who)) logs.set(who, []); logs.get(who).push(a.join(' ')); };

const cfg = {
  unix: rnd() < 0.4,
  lib: pick(['client', 'server', 'both']),
  serverHalfOpen: rnd() < 0.4,
  clientHalfOpen: rnd() < 0.4,
  pauseOnConnect: rnd() < 0.15,
  steps: ri(2, 9),
};
const netFor = (role) => (wasinet && (cfg.lib === role || cfg.lib === 'both') ? wasinet : nodeNet);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rdiff-'));
const address = cfg.unix ? { path: path.join(dir, 's.sock') } : { port: 0, host: '127.0.0.1' };

// warm-up: one connection through each library in use, not logged
for (const net of new Set([netFor('client'), netFor('server')])) {
  const w = net.createServer((s) => s.end('x'));
  await new Promise((r) => w.listen(0, '127.0.0.1', r));
  const c = net.connect(w.address().port, '127.0.0.1'); c.resume();
  await new Promise((r) => c.on('close', r)); await new Promise((r) => w.close(r));
}

const state = (s) => [
  `wl=${s.writableLength}`, `rs=${s.readyState}`, `pend=${s.pending}`, `dest=${s.destroyed}`,
  `w=${s.writable}`, `wEnd=${s.writableEnded}`, `wFin=${s.writableFinished}`, `r=${s.readable}`,
  `rEnd=${s.readableEnded}`, `flow=${s.readableFlowing}`, `cork=${s.writableCorked}`,
].join(' ');

function watch(name, s) {
  const got = [];
  s.gotForDiff = got;
  s.on('data', (d) => got.push(typeof d === 'string' ? Buffer.from(d, s.readableEncoding ?? 'utf8') : d));
  for (const ev of ['connect', 'ready', 'end', 'finish', 'drain', 'timeout']) {
    s.on(ev, () => L(name, 'ev', ev, ev === 'end' ? `${Buffer.concat(got).length}:${hash(Buffer.concat(got))}` : '', state(s)));
  }
  s.on('error', (e) => L(name, 'ev error', e.code, e.syscall ?? '', e.message.replace(/\d+\.\d+\.\d+\.\d+:\d+|\/\S+/g, '<addr>'), state(s)));
  s.on('close', (hadError) => {
    L(name, 'ev close', hadError, state(s), `bytesWritten=${s.bytesWritten}`);
    s.closedForDiff = true;
  });
}

const server = netFor('server').createServer({ allowHalfOpen: cfg.serverHalfOpen, pauseOnConnect: cfg.pauseOnConnect });
L('server', 'cfg', JSON.stringify(cfg));
server.on('close', () => L('server', 'ev close'));
server.on('error', (e) => L('server', 'ev error', e.code));
const accepted = [];
let gotConnection;
const connected = new Promise((r) => { gotConnection = r; });
server.on('connection', (s) => { L('server', 'ev connection'); accepted.push(s); watch('s', s); gotConnection(); });
await new Promise((r) => server.listen(address, r));
const target = cfg.unix ? { path: address.path } : { port: server.address().port, host: '127.0.0.1' };

const c = netFor('client').connect({ ...target, allowHalfOpen: cfg.clientHalfOpen });
watch('c', c);

const sizes = [0, 1, 100, 16384, 70000, 1 << 20];
const ops = [
  ['write', 6], ['writeStr', 1], ['end', 2], ['endData', 1], ['destroy', 1], ['destroyErr', 1],
  ['reset', 1], ['pause', 2], ['resume', 2], ['cork', 1], ['uncork', 1], ['setTimeout', 1],
  ['setTimeout0', 1], ['setEncoding', 1], ['destroySoon', 1], ['serverClose', 1], ['manyWrites', 2],
  ['readMode', 1], ['options', 1], ['names', 1], ['getConnections', 1], ['writeUtf8', 1], ['setEncodingUtf8', 1],
];
const weighted = ops.flatMap(([n, w]) => Array(w).fill(n));
const plan = [];
for (let i = 0; i < cfg.steps; i++) {
  plan.push({
    when: pick(['sync', 'sync', 'tick', 'immediate', 'timer', 'timer']),
    ms: pick([0, 1, 5, 20]),
    side: i === 0 && rnd() < 0.3 ? 'c' : pick(['c', 's']),
    op: pick(weighted),
    size: pick(sizes),
    count: pick([3, 50, 1100]),
  });
}
L('server', 'plan', JSON.stringify(plan));

const waitFor = async (when, ms) => {
  if (when === 'tick') await new Promise((r) => process.nextTick(r));
  else if (when === 'immediate') await new Promise((r) => setImmediate(r));
  else if (when === 'timer') await sleep(ms);
};

let n = 0;
function run(step, s, name) {
  const id = `#${n++}`;
  const cb = (e) => L(name, 'cb', id, e ? e.code ?? e.message : 'ok', state(s));
  let ret;
  try {
    switch (step.op) {
      case 'write': ret = s.write(Buffer.alloc(step.size, 97 + (n % 26)), cb); break;
      case 'writeStr': ret = s.write('68656c6c6f'.repeat(1 + (step.size >> 4)), 'hex', cb); break;
      case 'end': ret = s.end(cb) === s; break;
      case 'endData': ret = s.end(Buffer.alloc(step.size, 65), cb) === s; break;
      case 'destroy': ret = s.destroy() === s; break;
      case 'destroyErr': ret = s.destroy(new Error('boom')) === s; break;
      case 'reset': ret = s.resetAndDestroy() === s; break;
      case 'pause': ret = s.pause() === s; break;
      case 'resume': ret = s.resume() === s; break;
      case 'cork': s.cork(); break;
      case 'uncork': s.uncork(); break;
      case 'setTimeout': ret = s.setTimeout(15, () => L(name, 'timeout cb')) === s; break;
      case 'setTimeout0': ret = s.setTimeout(0) === s; break;
      case 'setEncoding': ret = s.setEncoding('latin1') === s; break;
      case 'destroySoon': s.destroySoon(); break;
      case 'readMode': {
        // paused mode: 'readable' and read() until null (what was read joins the hash)
        s.pause();
        s.removeAllListeners('data');
        s.on('readable', () => { let d; while ((d = s.read()) !== null) s.gotForDiff.push(typeof d === 'string' ? Buffer.from(d, s.readableEncoding ?? 'utf8') : d); });
        ret = `flow=${s.readableFlowing}`;
        break;
      }
      case 'options': ret = `${s.setNoDelay(true) === s} ${s.setKeepAlive(true, 1000) === s} ${s.setNoDelay(false) === s}`; break;
      case 'names': {
        const a = s.address();
        ret = `${a.family ?? typeof a} ${a.port > 0} ${s.remoteFamily} ${s.remotePort > 0} ${s.remoteAddress} ${s.localAddress} ${s.localPort > 0}`;
        break;
      }
      case 'getConnections': server.getConnections((e, k) => L('server', 'getConnections cb', e ? e.code : k)); break;
      case 'writeUtf8': ret = s.write('é€x'.repeat(1 + (step.size >> 6)), cb); break;
      case 'setEncodingUtf8': ret = s.setEncoding('utf8') === s; break;
      case 'serverClose': server.close((e) => L('server', 'close cb', e ? e.code : 'ok')); break;
      case 'manyWrites': {
        s.cork();
        const rets = [];
        for (let i = 0; i < step.count; i++) rets.push(s.write(Buffer.alloc(100, 48 + (i % 10))) ? 1 : 0);
        process.nextTick(() => s.uncork());
        ret = rets.join('').replace(/(.)\1*/g, (m) => `${m[0]}x${m.length},`);
        break;
      }
    }
  } catch (e) {
    ret = `threw ${e.code ?? e.message}`;
  }
  L(name, 'op', id, step.op, step.op.includes('rite') || step.op === 'endData' ? step.size : '', '->', ret, state(s));
}

const deadline = setTimeout(() => { L('server', 'TIMEOUT'); finish(); }, 4000);
// the client's steps before the first of the server's are made as soon as the client exists
// (before its connect); the first server step waits for the server's 'connection'
for (const step of plan) {
  if (step.side === 's' && !accepted[0]) await Promise.race([connected, sleep(500)]);
  await waitFor(step.when, step.ms);
  const s = step.side === 's' ? accepted[0] : c;
  if (!s) { L('server', 'skip', step.op); continue; }
  run(step, s, step.side);
}
// let it settle, then end both sides' readers and close whatever is left
await sleep(60);
for (const s of [c, ...accepted]) if (!s.destroyed) s.resume();
await sleep(60);
for (const [s, name] of [[c, 'c'], ...accepted.map((a) => [a, 's'])]) if (!s.closedForDiff) { L(name, 'final end'); s.end(); }
await sleep(100);
finish();
function finish() {
  clearTimeout(deadline);
  for (const s of [c, ...accepted]) if (!s.closedForDiff) { L(s === c ? 'c' : 's', 'still open', state(s)); s.destroy(); }
  server.close();
  setTimeout(() => {
    for (const [who, lines] of logs) for (const l of lines) console.log(who, l);
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }, 30);
}
