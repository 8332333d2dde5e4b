// server.close([cb]), getConnections(cb), maxConnections and 'drop', ref()/unref(). Every test
// runs on node:net and on wasinet with the same assertions; clients are node:net.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { libs, sockPath, sleep, until } from './helpers.js';
import {
  listenOk, disposeAll, portOf, connectOk, probe, closeServer, track, runChild, startChild, libSpecifier, own,
  type Server, type Socket,
} from './server-util.js';

afterEach(disposeAll);

const hasIPv6 = await new Promise<boolean>((resolve) => {
  const s = nodeNet.createServer();
  s.once('error', () => resolve(false));
  s.listen(0, '::1', () => s.close(() => resolve(true)));
});

function counts(server: Server): Promise<{ err: unknown; n: number; sync: boolean }> {
  return new Promise((resolve) => {
    let sync = true;
    server.getConnections((err, n) => resolve({ err, n, sync }));
    sync = false;
  });
}

/** A node:net client whose 'close' is awaited with `closedP`. */
async function client(port: number, host = '127.0.0.1'): Promise<{ c: Socket; closedP: Promise<void> }> {
  const c = await connectOk(port, host);
  c.on('error', () => {});
  return { c, closedP: new Promise((r) => c.once('close', () => r())) };
}

for (const [lib, net] of libs) {
  // ------------------------------------------------------------------ close()

  test(`${lib}: close() stops accepting: new connections are refused at once`, { timeout: 10000 }, async () => {
    const server = net.createServer((s: Socket) => { s.on('error', () => {}); });
    const accepted = track(server);
    await listenOk(server, 0, '127.0.0.1');
    const port = portOf(server);
    const { c } = await client(port);
    await until(() => accepted.length === 1, 5000, 'the first connection');
    server.close();
    assert.equal(await probe(port), 'ECONNREFUSED');
    await sleep(50);
    assert.equal(accepted.length, 1, 'no connection after close()');
    c.destroy();
  });

  test(`${lib}: close() keeps open connections working both ways`, { timeout: 10000 }, async () => {
    const server = net.createServer((s: Socket) => { s.on('data', (d) => s.write(`echo:${d}`)); });
    const accepted = track(server);
    await listenOk(server, 0, '127.0.0.1');
    const { c } = await client(portOf(server));
    await until(() => accepted.length === 1, 5000, 'the connection');
    let closed = false;
    server.close(() => { closed = true; });
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => { got += d; });
    c.write('after close');
    await until(() => got === 'echo:after close', 5000, 'the echo after close()');
    assert.equal(closed, false);
    c.destroy();
    await until(() => closed, 5000, "the server's 'close'");
  });

  test(`${lib}: 'close' and the close() callback come only after every connection has closed`, { timeout: 10000 }, async () => {
    const order: string[] = [];
    const server = net.createServer((s: Socket) => {
      s.on('error', () => {});
      s.on('end', () => s.end());
      s.on('close', () => order.push('socket close'));
    });
    const accepted = track(server);
    await listenOk(server, 0, '127.0.0.1');
    const port = portOf(server);
    const a = await client(port);
    const b = await client(port);
    await until(() => accepted.length === 2, 5000, 'two connections');
    server.on('close', () => order.push('server close'));
    let cbArgs: unknown[] | null = null;
    server.close((...args: unknown[]) => { cbArgs = args; order.push('cb'); });
    await sleep(100);
    assert.equal(order.join(','), '', 'two connections open: no close');
    a.c.end();
    await a.closedP;
    await sleep(100);
    assert.equal(order.join(','), 'socket close', 'one connection left: still no close');
    b.c.destroy();
    await until(() => order.length === 4, 5000, 'the close callback and the last socket close');
    await sleep(50);
    // Node emits the server's 'close' as soon as the last connection is destroyed, before that
    // socket's own 'close' (which waits for its handle to close).
    assert.deepEqual(order, ['socket close', 'server close', 'cb', 'socket close']);
    assert.equal(cbArgs!.length === 0 || cbArgs![0] === undefined, true, `cb(${String(cbArgs)})`);
  });

  test(`${lib}: close() with no connections: 'close' is emitted asynchronously, then the callback`, { timeout: 10000 }, async () => {
    const server = net.createServer();
    await listenOk(server, 0, '127.0.0.1');
    const order: string[] = [];
    server.on('close', () => order.push('close'));
    server.close((err?: Error) => order.push(`cb ${err}`));
    order.push('returned');
    await until(() => order.length === 3, 5000, 'close');
    assert.deepEqual(order, ['returned', 'close', 'cb undefined']);
  });

  test(`${lib}: close() returns the server`, { timeout: 10000 }, async () => {
    const server = net.createServer();
    await listenOk(server, 0, '127.0.0.1');
    assert.equal(server.close(), server);
    await new Promise((r) => server.once('close', r));
  });

  test(`${lib}: server[Symbol.asyncDispose]() closes a listening server; on a closed one it resolves with nothing`, { timeout: 10000 }, async () => {
    const server = net.createServer();
    await listenOk(server, 0, '127.0.0.1');
    const port = portOf(server);
    const events: string[] = [];
    server.on('close', () => events.push('close'));
    const dispose = (server as unknown as { [Symbol.asyncDispose](): Promise<unknown> })[Symbol.asyncDispose];
    assert.equal(typeof dispose, 'function');
    const r = await dispose.call(server);
    events.push(`disposed ${r} listening=${server.listening}`);
    assert.equal(await probe(port), 'ECONNREFUSED');
    const r2 = await dispose.call(server);
    events.push(`again ${r2}`);
    await sleep(20);
    assert.deepEqual(events, ['close', 'disposed undefined listening=false', 'again undefined']);
  });

  // ------------------------------------------------------------------ getConnections()

  test(`${lib}: getConnections(cb) counts open connections, asynchronously, with err null`, { timeout: 10000 }, async () => {
    const server = net.createServer((s: Socket) => { s.on('error', () => {}); });
    const accepted = track(server);
    assert.deepEqual(await counts(server), { err: null, n: 0, sync: false });
    await listenOk(server, 0, '127.0.0.1');
    assert.deepEqual(await counts(server), { err: null, n: 0, sync: false });
    const port = portOf(server);
    const a = await client(port);
    const b = await client(port);
    await until(() => accepted.length === 2, 5000, 'two connections');
    assert.deepEqual(await counts(server), { err: null, n: 2, sync: false });
    a.c.destroy();
    await until(() => accepted[0].destroyed, 5000, 'the server side of a to close');
    await sleep(20);
    assert.deepEqual(await counts(server), { err: null, n: 1, sync: false });
    // Connections still open after close() are still counted.
    server.close();
    assert.deepEqual(await counts(server), { err: null, n: 1, sync: false });
    b.c.destroy();
    await new Promise((r) => server.once('close', r));
    assert.deepEqual(await counts(server), { err: null, n: 0, sync: false });
  });

  test(`${lib}: getConnections() returns the server`, { timeout: 10000 }, async () => {
    const server = net.createServer();
    assert.equal(server.getConnections(() => {}), server);
  });

  test(`${lib}: a connection the server destroys itself is no longer counted`, { timeout: 10000 }, async () => {
    const server = net.createServer((s: Socket) => { s.destroy(); });
    await listenOk(server, 0, '127.0.0.1');
    const { closedP } = await client(portOf(server));
    await closedP;
    await sleep(20);
    assert.equal((await counts(server)).n, 0);
    await closeServer(server);
  });

  // ------------------------------------------------------------------ maxConnections / 'drop'

  test(`${lib}: maxConnections: connections beyond it are closed at once and 'drop' gives Node 20's fields`, { timeout: 10000 }, async () => {
    const server = net.createServer((s: Socket) => { s.on('error', () => {}); });
    server.maxConnections = 2;
    const accepted = track(server);
    const drops: unknown[][] = [];
    server.on('drop', (...a: unknown[]) => drops.push(a));
    await listenOk(server, 0, '127.0.0.1');
    const port = portOf(server);
    const a = await client(port);
    const b = await client(port);
    await until(() => accepted.length === 2, 5000, 'two connections');
    const third = await client(port);
    const thirdPort = third.c.localPort;
    const events: string[] = [];
    third.c.on('data', () => events.push('data'));
    third.c.on('end', () => events.push('end'));
    await third.closedP; // closed by the server without a word
    await until(() => drops.length === 1, 5000, "'drop'");
    assert.equal(drops[0].length, 1);
    assert.deepEqual({ ...(drops[0][0] as object) }, {
      localAddress: '127.0.0.1', localPort: port, localFamily: 'IPv4',
      remoteAddress: '127.0.0.1', remotePort: thirdPort, remoteFamily: 'IPv4',
    });
    assert.deepEqual(Object.keys(drops[0][0] as object),
      ['localAddress', 'localPort', 'localFamily', 'remoteAddress', 'remotePort', 'remoteFamily']);
    assert.deepEqual(events, ['end']);
    assert.equal(accepted.length, 2, "no 'connection' for the dropped one");
    assert.equal((await counts(server)).n, 2);
    // Below the limit again: accepted.
    a.c.destroy();
    await until(() => accepted[0].destroyed, 5000, 'a to close');
    await sleep(20);
    const d = await client(port);
    await until(() => accepted.length === 3, 5000, 'a new connection below the limit');
    assert.equal(drops.length, 1);
    b.c.destroy();
    d.c.destroy();
  });

  test(`${lib}: the 'drop' argument is a null-prototype object, as in Node 20`, { timeout: 10000 }, async () => {
    const server = net.createServer((s: Socket) => { s.on('error', () => {}); });
    server.maxConnections = 1;
    const drops: unknown[] = [];
    server.on('drop', (x: unknown) => drops.push(x));
    const accepted = track(server);
    await listenOk(server, 0, '127.0.0.1');
    const a = await client(portOf(server));
    await until(() => accepted.length === 1, 5000, 'the first connection');
    const b = await client(portOf(server));
    await b.closedP;
    await until(() => drops.length === 1, 5000, "'drop'");
    assert.equal(Object.getPrototypeOf(drops[0]), null);
    a.c.destroy();
  });

  test(`${lib}: maxConnections over IPv6: 'drop' has IPv6 families`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const server = net.createServer((s: Socket) => { s.on('error', () => {}); });
    server.maxConnections = 1;
    const drops: unknown[] = [];
    server.on('drop', (x: unknown) => drops.push(x));
    const accepted = track(server);
    await listenOk(server, 0, '::1');
    const port = portOf(server);
    const a = await client(port, '::1');
    await until(() => accepted.length === 1, 5000, 'the first connection');
    const b = await client(port, '::1');
    const bPort = b.c.localPort;
    await b.closedP;
    await until(() => drops.length === 1, 5000, "'drop'");
    assert.deepEqual({ ...(drops[0] as object) }, {
      localAddress: '::1', localPort: port, localFamily: 'IPv6',
      remoteAddress: '::1', remotePort: bPort, remoteFamily: 'IPv6',
    });
    a.c.destroy();
  });

  test(`${lib}: maxConnections set while listening applies to the next connections`, { timeout: 10000 }, async () => {
    const server = net.createServer((s: Socket) => { s.on('error', () => {}); });
    const accepted = track(server);
    let drops = 0;
    server.on('drop', () => { drops++; });
    await listenOk(server, 0, '127.0.0.1');
    const port = portOf(server);
    const a = await client(port);
    const b = await client(port);
    await until(() => accepted.length === 2, 5000, 'two connections');
    server.maxConnections = 1; // already above: existing ones stay, new ones are dropped
    assert.equal(server.maxConnections, 1);
    const c = await client(port);
    await c.closedP;
    await until(() => drops === 1, 5000, "'drop'");
    assert.equal(accepted.length, 2);
    assert.equal(a.c.destroyed, false);
    assert.equal(b.c.destroyed, false);
    a.c.destroy();
    b.c.destroy();
  });

  test(`${lib}: maxConnections compares as Node does: 0 and null mean no limit, -1 drops all, 1.5 admits two`, { timeout: 15000 }, async () => {
    const results: string[] = [];
    for (const max of [0, null, -1, 1.5]) {
      const server = net.createServer((s: Socket) => { s.on('error', () => {}); });
      server.maxConnections = max as number;
      const accepted = track(server);
      let drops = 0;
      server.on('drop', () => { drops++; });
      await listenOk(server, 0, '127.0.0.1');
      const port = portOf(server);
      const cs: Socket[] = [];
      for (let i = 0; i < 3; i++) cs.push((await client(port)).c);
      await until(() => accepted.length + drops === 3, 5000, 'three connections handled');
      results.push(`${max}: accepted=${accepted.length} drops=${drops} maxConnections=${server.maxConnections}`);
      for (const c of cs) c.destroy();
      await closeServer(server, accepted);
    }
    assert.deepEqual(results, [
      '0: accepted=3 drops=0 maxConnections=0',
      'null: accepted=3 drops=0 maxConnections=null',
      '-1: accepted=0 drops=3 maxConnections=-1',
      '1.5: accepted=2 drops=1 maxConnections=1.5',
    ]);
  });

  test(`${lib}: a dropped connection without a 'drop' listener is closed all the same`, { timeout: 10000 }, async () => {
    const server = net.createServer((s: Socket) => { s.on('error', () => {}); });
    server.maxConnections = 1;
    const accepted = track(server);
    await listenOk(server, 0, '127.0.0.1');
    const port = portOf(server);
    const a = await client(port);
    await until(() => accepted.length === 1, 5000, 'the first connection');
    const b = await client(port);
    await b.closedP;
    assert.equal(accepted.length, 1);
    a.c.destroy();
  });

  // ------------------------------------------------------------------ ref() / unref()

  test(`${lib}: ref() and unref() return the server`, { timeout: 10000 }, async () => {
    const server = own(net.createServer());
    assert.equal(server.unref(), server);
    assert.equal(server.ref(), server);
    await listenOk(server, 0, '127.0.0.1');
    assert.equal(server.unref(), server);
    assert.equal(server.ref(), server);
    await closeServer(server);
  });

  const script = (body: string) => `
    import net from ${JSON.stringify(libSpecifier(lib))};
    const server = net.createServer();
    server.on('error', (e) => { console.log('error ' + e.code); process.exitCode = 2; });
    ${body}
  `;

  test(`${lib}: a process whose only handle is an unref'ed listening server exits by itself`, { timeout: 20000 }, async () => {
    const r = await runChild(script(`server.listen(0, '127.0.0.1', () => { server.unref(); console.log('listening'); });`), 10000);
    assert.equal(r.killed, false, `the child did not exit by itself (stdout ${r.stdout} stderr ${r.stderr})`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'listening\n');
  });

  test(`${lib}: unref() before listen() holds for the listening server`, { timeout: 20000 }, async () => {
    const r = await runChild(script(`server.unref(); server.listen(0, '127.0.0.1', () => console.log('listening'));`), 10000);
    assert.equal(r.killed, false, `the child did not exit by itself (stdout ${r.stdout} stderr ${r.stderr})`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'listening\n');
  });

  test(`${lib}: an unref'ed IPC server does not keep the process alive either`, { timeout: 20000 }, async () => {
    const p = sockPath('unref');
    const r = await runChild(script(`
      server.listen(${JSON.stringify(p)}, () => { server.unref(); console.log('listening'); });`), 10000);
    assert.equal(r.killed, false, `the child did not exit by itself (stdout ${r.stdout} stderr ${r.stderr})`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'listening\n');
  });

  /** Starts `body` in a child, waits for 'listening', then checks it is still alive 1 s later. */
  async function aliveAfterListening(body: string): Promise<void> {
    const child = startChild(script(body));
    try {
      await child.waitFor(/listening\n/, 10000);
      let exited: string | null = null;
      void child.exited.then((r) => { exited = `code ${r.code} signal ${r.signal}`; });
      await sleep(1000);
      assert.equal(exited, null, `the child exited by itself (${exited}); stderr ${child.stderr()}`);
    } finally {
      await child.stop();
    }
  }

  test(`${lib}: a ref'ed listening server keeps the process alive (killed after a wait)`, { timeout: 20000 }, async () => {
    await aliveAfterListening(`server.listen(0, '127.0.0.1', () => console.log('listening'));`);
  });

  test(`${lib}: unref() then ref() keeps the process alive again`, { timeout: 20000 }, async () => {
    await aliveAfterListening(`server.listen(0, '127.0.0.1', () => { server.unref(); server.ref(); console.log('listening'); });`);
  });

  test(`${lib}: an unref'ed server with an open accepted connection stays alive until it closes`, { timeout: 20000 }, async () => {
    // The child accepts one connection from itself (node:net client, unref'ed), then unrefs the
    // server; the accepted socket keeps the process alive until the client closes it 500 ms later.
    const r = await runChild(script(`
      import nodeNet from 'node:net';
      server.on('connection', (s) => {
        server.unref();
        const t0 = Date.now();
        s.on('error', () => {});
        s.on('close', () => console.log('accepted closed after ' + (Date.now() - t0 >= 400 ? '>=400' : '<400') + ' ms'));
        s.resume();
      });
      server.listen(0, '127.0.0.1', () => {
        const c = nodeNet.connect(server.address().port, '127.0.0.1');
        c.unref();
        c.on('connect', () => setTimeout(() => c.end(), 500).unref());
      });`), 10000);
    // The client's timer is unref'ed: only the accepted socket can keep the child alive that long.
    assert.equal(r.killed, false, `the child did not exit by itself (stdout ${r.stdout} stderr ${r.stderr})`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'accepted closed after >=400 ms\n');
  });
}
