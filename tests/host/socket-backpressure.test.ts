// Backpressure: a paused reader keeps its memory bounded while a peer in another process writes
// 1 GiB as fast as it can, and the peer's write() says so; and write()'s return value,
// bufferSize and 'drain' behave as in node:net. Every test runs on node:net and on wasinet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { libs, serve, eventually, closed, until, sleep, hashUntilEnd, sockPath, type Net } from './helpers.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

// The peer process: writes `total` bytes (1 MiB chunks, each stamped with its index, so a lost,
// repeated or reordered chunk changes the hash) as fast as write()/'drain' allow, and reports on
// stdout, one JSON object a line: listening (server role), false (the first write() that
// returned false), blocked (a write() returned false and no 'drain' came for 300 ms), done
// (every byte handed over and the FIN sent, with the sha256 of all bytes).
const WRITER = `
const net = require('node:net');
const crypto = require('node:crypto');
const [role, portArg, totalArg] = process.argv.slice(1);
const MiB = 1 << 20;
const N = Math.ceil(Number(totalArg) / MiB);
const base = Buffer.alloc(MiB);
for (let j = 0; j < MiB; j++) base[j] = (j * 131 + (j >> 9)) & 255;
const h = crypto.createHash('sha256');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
setTimeout(() => { out({ ev: 'gave-up' }); process.exit(3); }, 60000).unref();
function run(sock) {
  let i = 0, written = 0, reportedFalse = false, reportedBlocked = false;
  sock.on('error', (e) => { out({ ev: 'error', code: e.code }); process.exit(2); });
  sock.on('data', () => {});
  function pump() {
    while (i < N) {
      const c = Buffer.from(base);
      c.writeUInt32LE(i, 0); c.writeUInt32LE(i, MiB / 2); c.writeUInt32LE(i, MiB - 4);
      i++;
      h.update(c);
      written += c.length;
      if (!sock.write(c)) {
        if (!reportedFalse) { reportedFalse = true; out({ ev: 'false', written }); }
        const t = setTimeout(() => {
          if (!reportedBlocked) { reportedBlocked = true; out({ ev: 'blocked', written, pending: sock.writableLength }); }
        }, 300);
        sock.once('drain', () => { clearTimeout(t); pump(); });
        return;
      }
    }
    sock.end(() => out({ ev: 'done', bytes: written, hash: h.digest('hex') }));
  }
  pump();
}
if (role === 'server') {
  const srv = net.createServer((s) => { srv.close(); run(s); });
  srv.listen(0, '127.0.0.1', () => out({ ev: 'listening', port: srv.address().port }));
} else {
  const s = net.connect(Number(portArg), '127.0.0.1', () => run(s));
}
`;

interface WriterEvent { ev: string; port?: number; written?: number; pending?: number; bytes?: number; hash?: string; code?: string }

function startWriter(role: 'server' | 'client', port: number, total: number) {
  const child: ChildProcess = spawn(process.execPath, ['-e', WRITER, role, String(port), String(total)],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: WriterEvent[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => events.push(JSON.parse(l)));
  const find = (ev: string) => events.find((e) => e.ev === ev);
  const wait = async (ev: string, ms: number) => {
    await until(() => find(ev) !== undefined || events.some((e) => e.ev === 'error'), ms, `the writer's '${ev}'`);
    const e = find(ev);
    if (!e) throw new Error(`writer failed: ${JSON.stringify(events)}`);
    return e;
  };
  return { child, events, find, wait };
}

/** The reader: hashes what it receives; pauses once it has `pauseAfter` bytes. */
function reader(s: nodeNet.Socket, pauseAfter: number) {
  const h = createHash('sha256');
  const st = { bytes: 0, paused: false, hash: '', ended: false };
  s.on('data', (d: Buffer) => {
    h.update(d);
    st.bytes += d.length;
    if (!st.paused && st.bytes >= pauseAfter) { st.paused = true; s.pause(); }
  });
  s.on('end', () => { st.hash = h.digest('hex'); st.ended = true; });
  return st;
}

async function pausedReaderBounded(role: 'client' | 'server', net: Net): Promise<void> {
  const total = GiB;
  let sock: nodeNet.Socket | null = null;
  let srv: Awaited<ReturnType<typeof serve>> | null = null;
  let w: ReturnType<typeof startWriter>;
  const rss0 = process.memoryUsage().rss;
  if (role === 'client') {
    // The peer process is the server; the socket under test connects to it.
    w = startWriter('server', 0, total);
  } else {
    srv = await serve(net, (s) => { sock = s; });
    w = startWriter('client', srv.port, total);
  }
  try {
    let st: ReturnType<typeof reader> | null = null;
    if (role === 'client') {
      const { port } = await w.wait('listening', 10000);
      sock = net.connect(port!, '127.0.0.1');
      st = reader(sock, MiB);
    } else {
      await until(() => sock !== null, 10000, 'the connection');
      st = reader(sock!, MiB);
    }
    const s = sock!;
    const done = closed(s);
    await until(() => st!.paused, 10000, 'the first MiB');
    // The writer must be held up by the paused reader long before it has written everything.
    await w.wait('blocked', 15000).catch((e) => {
      throw new Error(`${(e as Error).message}; writer events: ${JSON.stringify(w.events)}`);
    });
    await sleep(500);
    const bytesPaused = st.bytes;
    const rss1 = process.memoryUsage().rss;
    await sleep(200);
    assert.equal(st.bytes, bytesPaused, "no 'data' while paused");
    const blocked = w.find('blocked')!;
    assert.ok(w.find('false') !== undefined, "the writer's write() returned false");
    assert.equal(w.find('done'), undefined, 'the writer could not hand over everything while we were paused');
    assert.ok(blocked.written! < total / 2, `the writer was blocked after ${blocked.written} bytes`);
    const grew = (rss1 - rss0) / MiB;
    assert.ok(grew < 64, `RSS grew by ${grew.toFixed(1)} MiB while paused (limit 64 MiB)`);

    s.resume();
    const fin = await w.wait('done', 45000);
    await until(() => st!.ended, 45000, "'end'");
    assert.equal(st.bytes, total);
    assert.equal(fin.bytes, total);
    assert.equal(st.hash, fin.hash, 'every byte arrived intact and in order');
    s.end();
    await done;
  } finally {
    w.child.kill();
    await srv?.close();
  }
}

for (const [lib, net] of libs) {
  test(`${lib}: a paused client stays under 64 MiB of RSS growth while a peer process writes 1 GiB; after resume() every byte arrives`,
    { timeout: 60000 }, () => pausedReaderBounded('client', net));

  test(`${lib}: a paused server's socket stays under 64 MiB of RSS growth while a peer process writes 1 GiB; after resume() every byte arrives`,
    { timeout: 60000 }, () => pausedReaderBounded('server', net));

  for (const [transport, role] of [['TCP', 'client'], ['TCP', 'server\'s socket'], ['Unix socket', 'client']] as const) {
    test(`${lib}: ${transport} ${role}: write() returns false once writableLength reaches the highWaterMark, bufferSize equals writableLength, ` +
      "no 'drain' while the peer is paused, one 'drain' with nothing buffered after it resumes", { timeout: 30000 }, async () => {
      let peer: nodeNet.Socket | null = null;
      let got: Promise<{ hash: string; bytes: number }> | null = null;
      let ours: nodeNet.Socket | null = null;
      let srv: Awaited<ReturnType<typeof serve>>;
      if (role === 'client') {
        srv = await serve(nodeNet, (p) => { peer = p; p.pause(); }, {}, transport === 'TCP' ? undefined : sockPath('bp'));
        ours = net.connect(srv.connectTo);
        await eventually(ours, 'connect');
      } else {
        srv = await serve(net, (s) => { ours = s; });
        peer = nodeNet.connect(srv.port, '127.0.0.1');
        peer.pause();
        await until(() => ours !== null, 5000, 'the connection');
      }
      try {
        await until(() => peer !== null, 5000, 'the peer');
        const s = ours!;
        let drains = 0;
        const atDrain: number[] = [];
        s.on('drain', () => { drains++; atDrain.push(s.writableLength); });
        const hwm = s.writableHighWaterMark;
        assert.equal(hwm, 16384);
        const h = createHash('sha256');
        const rets: boolean[] = [];
        for (let i = 0; i < 64; i++) {
          const chunk = Buffer.alloc(MiB, i);
          h.update(chunk);
          const ret = s.write(chunk);
          rets.push(ret);
          assert.equal(s.bufferSize, s.writableLength, `bufferSize after write ${i}`);
          assert.equal(ret, s.writableLength < hwm, `write ${i} returned ${ret} with writableLength ${s.writableLength}`);
        }
        const firstFalse = rets.indexOf(false);
        assert.ok(firstFalse >= 0, 'a write returned false: the kernel cannot take 64 MiB for a paused reader');
        assert.deepEqual(rets.slice(firstFalse), rets.slice(firstFalse).map(() => false), 'false from the first false on');
        await sleep(300);
        assert.equal(drains, 0, "no 'drain' while the peer is paused");
        assert.ok(s.writableLength > 0);
        assert.equal(s.bufferSize, s.writableLength);
        assert.equal(s.writableNeedDrain, true);

        got = hashUntilEnd(peer!);
        peer!.resume();
        await until(() => drains > 0, 20000, "'drain'");
        assert.deepEqual(atDrain, [0], "one 'drain', with nothing buffered");
        assert.equal(s.writableNeedDrain, false);
        const expected = h.digest('hex');
        s.end();
        const r = await got;
        assert.equal(r.bytes, 64 * MiB);
        assert.equal(r.hash, expected);
        assert.equal(drains, 1);
      } finally {
        peer?.destroy();
        await srv.close();
      }
    });
  }

  test(`${lib}: while connecting, write() is true below the highWaterMark and false at it; bufferSize and bytesWritten count it; 'drain' after connect`,
    { timeout: 10000 }, async () => {
      let got: Promise<{ hash: string; bytes: number }> | null = null;
      const srv = await serve(nodeNet, (p) => { got = hashUntilEnd(p); });
      try {
        const s = net.connect(srv.port, '127.0.0.1');
        const log: string[] = [];
        s.on('connect', () => log.push('connect'));
        s.on('drain', () => log.push(`drain ${s.writableLength}`));
        assert.equal(s.connecting, true);
        assert.equal(s.write(Buffer.alloc(16383, 1)), true);
        assert.equal(s.writableLength, 16383);
        assert.equal(s.bufferSize, 16383);
        assert.equal(s.write('x'), false);
        assert.equal(s.writableLength, 16384);
        assert.equal(s.bufferSize, 16384);
        assert.equal(s.bytesWritten, 16384);
        assert.equal(s.write(Buffer.alloc(MiB, 2)), false);
        assert.equal(s.bytesWritten, 16384 + MiB);
        await until(() => log.includes(`drain 0`), 5000, "'drain'");
        assert.deepEqual(log, ['connect', 'drain 0']);
        assert.equal(s.bufferSize, 0);
        s.end();
        await until(() => got !== null, 5000, 'the peer');
        assert.equal((await got!).bytes, 16384 + MiB);
        assert.equal(s.bytesWritten, 16384 + MiB);
      } finally { await srv.close(); }
    });

  test(`${lib}: a small write to an idle connected socket returns true, leaves nothing buffered, no 'drain'`, { timeout: 10000 }, async () => {
    const srv = await serve(nodeNet);
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      await eventually(s, 'connect');
      let drains = 0;
      s.on('drain', () => { drains++; });
      assert.equal(s.write('hello'), true);
      assert.equal(s.bufferSize, s.writableLength);
      await sleep(100);
      assert.equal(s.writableLength, 0);
      assert.equal(s.bufferSize, 0);
      assert.equal(drains, 0);
      assert.equal(s.bytesWritten, 5);
      s.destroy();
    } finally { await srv.close(); }
  });

  test(`${lib}: the writableHighWaterMark option sets where write() turns false`, { timeout: 10000 }, async () => {
    const srv = await serve(nodeNet);
    try {
      const s = new net.Socket({ writableHighWaterMark: 1000 } as never);
      assert.equal(s.writableHighWaterMark, 1000);
      s.connect(srv.port, '127.0.0.1');
      assert.equal(s.write(Buffer.alloc(999)), true);
      assert.equal(s.write('x'), false);
      await eventually(s, 'drain');
      assert.equal(s.writableLength, 0);
      s.destroy();
    } finally { await srv.close(); }
  });
}
