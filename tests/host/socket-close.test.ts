// destroy(), destroy(err) and 'close': the events, their order, and 'close' exactly once and
// last. Every test runs on node:net and on wasinet; peers are node:net.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { libs, eventLog, closed, eventually, until, sleep, serve, type Net } from './helpers.js';

const EVENTS = ['connect', 'ready', 'data', 'end', 'finish', 'error', 'timeout', 'close'];

/** A node:net server that reads everything, and optionally answers per connection. */
function peerServer(onConn: (p: nodeNet.Socket) => void = (p) => { p.resume(); }) {
  return serve(nodeNet, onConn);
}

/** Waits for 'close', then a little longer, so that a second 'close' or a late event shows. */
async function settle(p: Promise<unknown>): Promise<void> {
  await p;
  await sleep(50);
  await new Promise((r) => setImmediate(r));
}

/** Returns the connected socket of `net` to a node:net peer (and the peer's socket). */
async function connected(net: Net, port: number, peerSide: () => nodeNet.Socket | null) {
  const s = net.connect(port, '127.0.0.1');
  await eventually(s, 'connect');
  await until(() => peerSide() !== null, 5000, 'peer connection');
  return s;
}

for (const [lib, net] of libs) {
  test(`${lib}: destroy(err) emits 'error' (that error) then 'close' with hadError true, once`, { timeout: 10000 }, async () => {
    let peer: nodeNet.Socket | null = null;
    const peerSrv = await peerServer((p) => { peer = p; p.resume(); p.on('error', () => {}); });
    try {
      const s = await connected(net, peerSrv.port, () => peer);
      const log = eventLog(s, EVENTS);
      const done = closed(s);
      const boom = new Error('boom');
      let seen: unknown = null;
      s.on('error', (e) => { seen = e; });
      s.destroy(boom);
      assert.equal(s.destroyed, true);
      assert.deepEqual(log, [], 'nothing is emitted synchronously by destroy()');
      await settle(done);
      assert.equal(seen, boom);
      assert.deepEqual(log, ['error boom', 'close true']);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: destroy() emits only 'close' with hadError false`, { timeout: 10000 }, async () => {
    let peer: nodeNet.Socket | null = null;
    let peerClosed: Promise<unknown> | null = null;
    const peerSrv = await peerServer((p) => { peer = p; peerClosed = closed(p); p.resume(); });
    try {
      const s = await connected(net, peerSrv.port, () => peer);
      s.on('data', () => {});
      const log = eventLog(s, EVENTS);
      const done = closed(s);
      assert.equal(s.destroy(), s);
      await settle(done);
      assert.deepEqual(log, ['close false']);
      // The peer sees an orderly end.
      await peerClosed;
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: destroy() twice and destroy(err) after destroy(): one 'close', no 'error'`, { timeout: 10000 }, async () => {
    let peer: nodeNet.Socket | null = null;
    const peerSrv = await peerServer((p) => { peer = p; p.resume(); });
    try {
      const s = await connected(net, peerSrv.port, () => peer);
      const log = eventLog(s, EVENTS);
      const done = closed(s);
      s.destroy();
      s.destroy();
      s.destroy(new Error('late'));
      await settle(done);
      assert.deepEqual(log, ['close false']);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: destroy(err) twice: the first error only, then one 'close' true`, { timeout: 10000 }, async () => {
    let peer: nodeNet.Socket | null = null;
    const peerSrv = await peerServer((p) => { peer = p; p.resume(); });
    try {
      const s = await connected(net, peerSrv.port, () => peer);
      const log = eventLog(s, EVENTS);
      const done = closed(s);
      s.destroy(new Error('first'));
      s.destroy(new Error('second'));
      await settle(done);
      assert.deepEqual(log, ['error first', 'close true']);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: graceful end on both sides: 'end' and 'finish', then 'close' false exactly once and last`,
    { timeout: 10000 }, async () => {
      const peerSrv = await peerServer((p) => {
        const got: Buffer[] = [];
        p.on('data', (d) => got.push(d));
        p.on('end', () => p.end(`echo:${Buffer.concat(got)}`));
      });
      try {
        const s = net.connect(peerSrv.port, '127.0.0.1');
        const log = eventLog(s, EVENTS);
        const done = closed(s);
        s.end('hello');
        await settle(done);
        assert.equal(log.at(-1), 'close false');
        assert.equal(log.filter((l) => l.startsWith('close')).length, 1);
        assert.deepEqual([...log].sort(), ['close false', 'connect', 'data <10>', 'end', 'finish', 'ready'].sort());
        assert.ok(log.indexOf('connect') < log.indexOf('ready'));
        assert.ok(log.indexOf('finish') < log.indexOf('end'), `we finish before the peer answers: ${log.join(', ')}`);
        assert.ok(log.indexOf('data <10>') < log.indexOf('end'));
        assert.equal(s.destroyed, true);
      } finally { await peerSrv.close(); }
    });

  test(`${lib}: graceful close of a server's socket: 'end', 'finish', then 'close' false once and last`,
    { timeout: 10000 }, async () => {
      let log: string[] = [];
      let done: Promise<unknown> | null = null;
      const srv = await serve(net, (s) => {
        log = eventLog(s, EVENTS);
        done = closed(s);
        s.on('data', () => {});
        s.write('hi');
        s.end();
      });
      const port = srv.port;
      try {
        const c = nodeNet.connect(port, '127.0.0.1');
        c.on('data', () => {});
        c.on('end', () => c.end());
        await until(() => done !== null, 5000, 'connection');
        await settle(done!);
        assert.equal(log.at(-1), 'close false');
        assert.equal(log.filter((l) => l.startsWith('close')).length, 1);
        assert.deepEqual([...log].sort(), ['close false', 'end', 'finish']);
        assert.ok(log.indexOf('finish') < log.indexOf('end'), log.join(', '));
      } finally { await srv.close(); }
    });

  test(`${lib}: destroy(err) on a server's socket: 'error' then 'close' true; the peer sees end`, { timeout: 10000 }, async () => {
    let log: string[] = [];
    let done: Promise<unknown> | null = null;
    const srv = await serve(net, (s) => {
      log = eventLog(s, EVENTS);
      done = closed(s);
      s.on('error', () => {});
      setImmediate(() => s.destroy(new Error('server boom')));
    });
    const c = nodeNet.connect(srv.port, '127.0.0.1');
    try {
      const peerLog = eventLog(c, ['end', 'error', 'close']);
      const peerClosed = closed(c);
      c.on('data', () => {});
      await until(() => done !== null, 5000, 'connection');
      await settle(done!);
      assert.deepEqual(log, ['error server boom', 'close true']);
      await settle(peerClosed);
      assert.deepEqual(peerLog, ['end', 'close false']);
    } finally { c.destroy(); await srv.close(); }
  });

  test(`${lib}: destroy(err) while connecting: 'error' then 'close' true, never 'connect'`, { timeout: 10000 }, async () => {
    const peerSrv = await peerServer();
    try {
      const s = net.connect(peerSrv.port, '127.0.0.1');
      const log = eventLog(s, EVENTS);
      const done = closed(s);
      assert.equal(s.connecting, true);
      assert.equal(s.readyState, 'opening');
      s.destroy(new Error('abort'));
      assert.equal(s.connecting, false);
      await settle(done);
      await sleep(50);
      assert.deepEqual(log, ['error abort', 'close true']);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: destroy() while connecting: only 'close' false`, { timeout: 10000 }, async () => {
    const peerSrv = await peerServer();
    try {
      const s = net.connect(peerSrv.port, '127.0.0.1');
      const log = eventLog(s, EVENTS);
      const done = closed(s);
      s.destroy();
      await settle(done);
      await sleep(50);
      assert.deepEqual(log, ['close false']);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: destroy() / destroy(err) on a socket that never connected: 'close' without an argument`, { timeout: 10000 }, async () => {
    const a = new net.Socket();
    const b = new net.Socket();
    const logA = eventLog(a, EVENTS);
    const logB = eventLog(b, EVENTS);
    const argsA = closed(a);
    const argsB = closed(b);
    a.destroy();
    b.destroy(new Error('never'));
    assert.deepEqual(await argsA, []);
    assert.deepEqual(await argsB, []);
    await sleep(30);
    assert.deepEqual(logA, ['close']);
    assert.deepEqual(logB, ['error never', 'close']);
  });

  test(`${lib}: destroy(err) in a 'data' handler: no more 'data', no 'end'; 'error' then 'close' true`, { timeout: 10000 }, async () => {
    const peerSrv = await peerServer((p) => {
      p.on('error', () => {});
      p.write(Buffer.alloc(1000, 1));
      setTimeout(() => { if (!p.destroyed) p.end(Buffer.alloc(1000, 2)); }, 50);
    });
    try {
      const s = net.connect(peerSrv.port, '127.0.0.1');
      const log = eventLog(s, EVENTS);
      const done = closed(s);
      s.once('data', () => s.destroy(new Error('enough')));
      await settle(done);
      await sleep(100);
      assert.deepEqual(log, ['connect', 'ready', 'data <1000>', 'error enough', 'close true']);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: 'close' comes after the 'error' of a reset peer, once`, { timeout: 10000 }, async () => {
    const peerSrv = await peerServer((p) => setImmediate(() => p.resetAndDestroy()));
    try {
      const s = net.connect(peerSrv.port, '127.0.0.1');
      s.on('data', () => {});
      const log = eventLog(s, EVENTS);
      await settle(closed(s));
      assert.deepEqual(log, ['connect', 'ready', 'error ECONNRESET', 'close true']);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: end() with writes pending to a slow peer: 'finish' once flushed, then 'close' false`, { timeout: 15000 }, async () => {
    const size = 8 * 1024 * 1024;
    let received = 0;
    const peerSrv = await peerServer((p) => {
      p.pause();
      setTimeout(() => { p.on('data', (d) => { received += d.length; }); p.resume(); }, 200);
      p.on('end', () => p.end());
    });
    try {
      const s = net.connect(peerSrv.port, '127.0.0.1');
      s.on('data', () => {});
      const log = eventLog(s, ['finish', 'end', 'error', 'close']);
      const done = closed(s);
      s.write(Buffer.alloc(size, 7));
      s.end();
      await settle(done);
      assert.equal(received, size);
      assert.deepEqual(log, ['finish', 'end', 'close false']);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: state after close: destroyed, readyState, pending, byte counts, addresses`, { timeout: 10000 }, async () => {
    const peerSrv = await peerServer((p) => { p.on('data', () => p.write('pong')); });
    try {
      const s = net.connect(peerSrv.port, '127.0.0.1');
      await eventually(s, 'connect');
      assert.equal(s.readyState, 'open');
      assert.equal(s.pending, false);
      assert.equal(s.remoteAddress, '127.0.0.1'); // read while connected: Node keeps it after close
      s.write('ping');
      await eventually(s, 'data');
      const done = closed(s);
      s.destroy();
      await settle(done);
      assert.equal(s.destroyed, true);
      assert.equal(s.readyState, 'closed');
      assert.equal(s.pending, true);
      assert.equal(s.connecting, false);
      assert.equal(s.bytesWritten, 4);
      assert.equal(s.bytesRead, 4);
      assert.equal(s.bufferSize, undefined);
      assert.equal(s.remoteAddress, '127.0.0.1');
      assert.equal(s.remotePort, peerSrv.port);
      assert.equal(s.localAddress, undefined);
      assert.equal(s.localPort, undefined);
      assert.deepEqual(s.address(), {});
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: after close, the remote address is known only if it was read while connected`, { timeout: 10000 }, async () => {
    const peerSrv = await peerServer();
    try {
      const t = net.connect(peerSrv.port, '127.0.0.1');
      await eventually(t, 'connect');
      const tDone = closed(t);
      t.destroy();
      await settle(tDone);
      assert.equal(t.remoteAddress, undefined);
      assert.equal(t.remotePort, undefined);
      assert.equal(t.remoteFamily, undefined);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: a new Socket() that never connected: readyState 'open', pending, no bufferSize`, { timeout: 5000 }, () => {
    const s = new net.Socket();
    assert.equal(s.readyState, 'open');
    assert.equal(s.pending, true);
    assert.equal(s.connecting, false);
    assert.equal(s.bufferSize, undefined);
    assert.equal(s.bytesRead, 0);
    assert.equal(s.bytesWritten, 0);
    assert.equal(s.remoteAddress, undefined);
    assert.deepEqual(s.address(), {});
    assert.equal(s.timeout, undefined);
    s.destroy();
  });

  test(`${lib}: end(data) while connecting: data and FIN go out after 'connect'; 'close' false last`, { timeout: 10000 }, async () => {
    const peerSrv = await peerServer((p) => {
      p.on('data', (d) => p.write(`echo:${d}`));
      p.on('end', () => p.end());
    });
    try {
      const s = net.connect(peerSrv.port, '127.0.0.1');
      const log = eventLog(s, EVENTS);
      const done = closed(s);
      s.setEncoding('utf8');
      s.end('hi');
      assert.equal(s.readyState, 'opening');
      assert.equal(s.writableEnded, true);
      await settle(done);
      assert.deepEqual(log, ['connect', 'ready', 'finish', 'data echo:hi', 'end', 'close false']);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: connect() again on a closed socket: a second full life with its own events`, { timeout: 10000 }, async () => {
    const peerSrv = await peerServer((p) => {
      p.on('data', (d) => p.write(`echo:${d}`));
      p.on('end', () => p.end());
    });
    try {
      const s = net.connect(peerSrv.port, '127.0.0.1');
      s.setEncoding('utf8');
      const log = eventLog(s, EVENTS);
      s.end('a');
      await settle(closed(s));
      log.push('--');
      assert.equal(s.connect(peerSrv.port, '127.0.0.1'), s);
      assert.equal(s.destroyed, false);
      assert.equal(s.connecting, true);
      s.end('b');
      await settle(closed(s));
      assert.deepEqual(log, ['connect', 'ready', 'finish', 'data echo:a', 'end', 'close false', '--',
        'connect', 'ready', 'finish', 'data echo:b', 'end', 'close false']);
    } finally { await peerSrv.close(); }
  });

  test(`${lib}: destroySoon(): ends the writable side, destroys after 'finish'; 'close' false`, { timeout: 10000 }, async () => {
    const peerSrv = await peerServer();
    try {
      const s = net.connect(peerSrv.port, '127.0.0.1');
      const log = eventLog(s, EVENTS);
      s.write('x');
      s.destroySoon();
      await settle(closed(s));
      assert.deepEqual(log, ['connect', 'ready', 'finish', 'close false']);
    } finally { await peerSrv.close(); }
  });


  test(`${lib}: end() then resetAndDestroy() before the shutdown is done: 'error' EINVAL (syscall reset) from destroy() itself, and no 'close', as libuv refuses the reset`, () => {
    // In a child: Node's handle is never closed (nor the node backend's), so the process exits by hand.
    const mod = lib === 'wasinet' ? createRequire(import.meta.url).resolve('../../host/index.js') : 'node:net';
    const script = (mode: string) => `
      const peerNet = require('node:net');
      const net = require(${JSON.stringify(mod)});
      const out = [];
      const srv = peerNet.createServer((s) => { s.resume(); s.on('end', () => out.push('peer end')); s.on('error', (e) => out.push('peer error ' + e.code)); });
      srv.listen(0, '127.0.0.1', () => {
        const c = net.connect(srv.address().port, '127.0.0.1');
        c.on('error', (e) => out.push('error ' + e.code + ' ' + e.syscall + ' ' + e.message + ' errno=' + e.errno + ' pending=' + c.pending + ' destroyed=' + c.destroyed));
        c.on('close', (h) => out.push('close ' + h));
        const go = () => {
          c.end(() => out.push('end cb'));
          const reset = () => out.push('returned ' + (c.resetAndDestroy() === c) + ' destroyed=' + c.destroyed);
          if (${JSON.stringify(mode)} === 'tick') process.nextTick(reset);
          else if (${JSON.stringify(mode)} === 'immediate') setImmediate(reset);
          else reset();
        };
        if (${JSON.stringify(mode)} === 'connecting') go(); else c.on('connect', go);
        setTimeout(() => { out.push('later closed=' + c.closed); console.log(JSON.stringify(out)); process.exit(0); }, 200);
      });`;
    const run = (mode: string) => {
      const r = spawnSync(process.execPath, ['-e', script(mode)], { encoding: 'utf8', timeout: 10000 });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as string[];
    };
    const refused = 'error EINVAL reset reset EINVAL errno=-22 pending=false destroyed=true';
    assert.deepEqual(run('connecting'), ['returned true destroyed=false', refused, 'end cb', 'peer end', 'later closed=true']);
    assert.deepEqual(run('sync'), [refused, 'returned true destroyed=true', 'end cb', 'peer end', 'later closed=true']);
    assert.deepEqual(run('tick'), [refused, 'returned true destroyed=true', 'end cb', 'peer end', 'later closed=true']);
    // once the shutdown is done (libuv's poll phase), the reset goes through: no error, 'close'
    assert.deepEqual(run('immediate'), ['end cb', 'returned true destroyed=true', 'close false', 'peer end', 'later closed=true']);
  });
}
