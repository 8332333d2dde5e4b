// net.createServer([options][, connectionListener]): the listener forms and the options
// allowHalfOpen, pauseOnConnect, highWaterMark. Every test runs on node:net and on wasinet with
// the same assertions; clients are node:net.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { libs, sleep, until, eventually } from './helpers.js';
import { listenOk, portOf, connectOk, closeServer, disposeAll, type Socket } from './server-util.js';

afterEach(disposeAll);

for (const [lib, net] of libs) {
  test(`${lib}: createServer(listener) registers it for 'connection' and calls it with a net.Socket`, { timeout: 10000 }, async () => {
    let got = null as unknown;
    const listener = (s: Socket) => { got = s; s.end(); };
    const server = net.createServer(listener);
    assert.equal(server.listenerCount('connection'), 1);
    assert.equal(server.listeners('connection')[0], listener);
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk(portOf(server), '127.0.0.1');
    c.resume();
    await until(() => got !== null, 5000, 'the connection listener');
    assert.ok(got instanceof net.Socket, 'an accepted socket is a Socket of the library');
    assert.equal((got as unknown as { server: unknown }).server, server);
    await closeServer(server, [c]);
  });

  test(`${lib}: createServer(options, listener) registers the listener and applies the options`, { timeout: 10000 }, async () => {
    const listener = (s: Socket) => { s.end(); };
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, listener);
    assert.equal(server.listenerCount('connection'), 1);
    assert.equal(server.listeners('connection')[0], listener);
    const x = server as unknown as { allowHalfOpen: boolean; pauseOnConnect: boolean };
    assert.equal(x.allowHalfOpen, true);
    assert.equal(x.pauseOnConnect, true);
  });

  test(`${lib}: createServer(null | undefined, listener) registers the listener`, { timeout: 10000 }, async () => {
    const listener = () => {};
    for (const opts of [null, undefined]) {
      const server = net.createServer(opts as never, listener);
      assert.equal(server.listenerCount('connection'), 1);
      assert.equal(server.listeners('connection')[0], listener);
    }
  });

  test(`${lib}: createServer() with no listener: connections go to on('connection') listeners`, { timeout: 10000 }, async () => {
    const server = net.createServer();
    assert.equal(server.listenerCount('connection'), 0);
    const seen: Socket[] = [];
    server.on('connection', (s: Socket) => { seen.push(s); s.end('hi'); });
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk(portOf(server), '127.0.0.1');
    let reply = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => { reply += d; });
    await eventually(c, 'end');
    assert.equal(reply, 'hi');
    assert.equal(seen.length, 1);
    await closeServer(server, [c]);
  });

  test(`${lib}: new net.Server(listener) works like createServer(listener)`, { timeout: 10000 }, async () => {
    const server = new net.Server((s: Socket) => { s.end('from Server'); });
    assert.ok(server instanceof net.Server);
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk(portOf(server), '127.0.0.1');
    let reply = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => { reply += d; });
    await eventually(c, 'end');
    assert.equal(reply, 'from Server');
    await closeServer(server, [c]);
  });

  test(`${lib}: default option values of a server and of its accepted sockets`, { timeout: 10000 }, async () => {
    const accepted: Socket[] = [];
    const server = net.createServer((s: Socket) => { accepted.push(s); });
    const x = server as unknown as Record<string, unknown>;
    assert.equal(x.allowHalfOpen, false);
    assert.equal(x.pauseOnConnect, false);
    assert.equal(x.noDelay, false);
    assert.equal(x.keepAlive, false);
    assert.equal(x.keepAliveInitialDelay, 0);
    assert.equal(server.maxConnections, undefined);
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk(portOf(server), '127.0.0.1');
    await until(() => accepted.length === 1, 5000, 'the connection');
    const s = accepted[0];
    assert.equal(s.allowHalfOpen, false);
    assert.equal(s.isPaused(), false);
    assert.equal(s.readableFlowing, null);
    assert.equal(s.readableHighWaterMark, 16384);
    await closeServer(server, [c, s]);
  });

  test(`${lib}: highWaterMark option sets both high water marks of accepted sockets`, { timeout: 10000 }, async () => {
    const accepted: Socket[] = [];
    const server = net.createServer({ highWaterMark: 1000 } as nodeNet.ServerOpts, (s: Socket) => { accepted.push(s); });
    assert.equal((server as unknown as { highWaterMark: number }).highWaterMark, 1000);
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk(portOf(server), '127.0.0.1');
    await until(() => accepted.length === 1, 5000, 'the connection');
    assert.equal(accepted[0].readableHighWaterMark, 1000);
    assert.equal(accepted[0].writableHighWaterMark, 1000);
    await closeServer(server, [c, accepted[0]]);
  });

  test(`${lib}: allowHalfOpen false (default): the accepted socket ends its side after the client's FIN`, { timeout: 10000 }, async () => {
    const events: string[] = [];
    let accepted = null as Socket | null;
    const server = net.createServer((s: Socket) => {
      accepted = s;
      s.on('data', () => {});
      s.on('end', () => events.push('end'));
      s.on('finish', () => events.push('finish'));
      s.on('close', (hadError: boolean) => events.push(`close ${hadError}`));
    });
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk({ port: portOf(server), host: '127.0.0.1', allowHalfOpen: true });
    c.resume();
    const clientEnd = eventually(c, 'end');
    c.end('bye');
    await clientEnd; // the server's FIN came without anyone calling end() on the accepted socket
    await until(() => events.includes('close false'), 5000, 'the accepted socket to close');
    assert.deepEqual(events, ['end', 'finish', 'close false']);
    assert.equal(accepted!.allowHalfOpen, false);
    await closeServer(server, [c]);
  });

  test(`${lib}: allowHalfOpen false: a write in the 'end' listener still goes out; a later write fails with EPIPE`, { timeout: 10000 }, async () => {
    let atEnd = '';
    let lateReturned: unknown = 'not called';
    let lateErr: NodeJS.ErrnoException | null | undefined;
    const errors: unknown[] = [];
    const server = net.createServer((s: Socket) => {
      s.on('data', () => {});
      s.on('error', (e) => errors.push(e));
      s.on('end', () => {
        atEnd = `writable=${s.writable} writableEnded=${s.writableEnded} write=${s.write('in end')}`;
        setImmediate(() => {
          lateReturned = `destroyed=${s.destroyed} write=${s.write('late', (e) => { lateErr = e; })}`;
        });
      });
    });
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk({ port: portOf(server), host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => { got += d; });
    c.end();
    await eventually(c, 'end');
    await until(() => lateErr !== undefined, 5000, 'the late write callback');
    assert.equal(atEnd, 'writable=true writableEnded=false write=true');
    assert.equal(lateReturned, 'destroyed=true write=false');
    assert.equal(lateErr!.code, 'EPIPE');
    assert.equal(lateErr!.message, 'This socket has been ended by the other party');
    await sleep(50);
    assert.deepEqual(errors, [], "no 'error' event on the destroyed socket");
    assert.equal(got, 'in end');
    await closeServer(server, [c]);
  });

  test(`${lib}: allowHalfOpen true: the accepted socket stays writable after the client's FIN`, { timeout: 10000 }, async () => {
    let atEnd = '';
    const server = net.createServer({ allowHalfOpen: true }, (s: Socket) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => {
        atEnd = `writable=${s.writable} writableEnded=${s.writableEnded}`;
        // Answer later: the client's FIN did not end our side.
        setTimeout(() => s.end(`got ${Buffer.concat(chunks).toString()}`), 100);
      });
    });
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk({ port: portOf(server), host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => { got += d; });
    c.end('question');
    await eventually(c, 'end');
    assert.equal(atEnd, 'writable=true writableEnded=false');
    assert.equal(got, 'got question');
    await closeServer(server, [c]);
  });

  test(`${lib}: pauseOnConnect: nothing is read until resume(), then the data arrives`, { timeout: 10000 }, async () => {
    let accepted = null as Socket | null;
    const server = net.createServer({ pauseOnConnect: true }, (s: Socket) => { accepted = s; });
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk(portOf(server), '127.0.0.1');
    await until(() => accepted !== null, 5000, 'the connection');
    const s = accepted! as Socket;
    assert.equal(s.isPaused(), true);
    assert.equal(s.readableFlowing, false);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d)); // does not start the flow: it was paused explicitly
    await new Promise<void>((r) => c.write('x'.repeat(1000), () => r()));
    await sleep(200);
    assert.equal(s.bytesRead, 0, 'bytesRead stays 0 while paused');
    assert.equal(chunks.length, 0, 'no data event while paused');
    assert.equal(s.readableLength, 0, 'nothing was read into the buffer');
    s.resume();
    await until(() => Buffer.concat(chunks).length === 1000, 5000, 'the data after resume()');
    assert.equal(s.bytesRead, 1000);
    assert.equal(Buffer.concat(chunks).toString(), 'x'.repeat(1000));
    await closeServer(server, [c, s]);
  });

  test(`${lib}: pauseOnConnect: the client's FIN is not seen either until resume()`, { timeout: 10000 }, async () => {
    let accepted = null as Socket | null;
    const server = net.createServer({ pauseOnConnect: true }, (s: Socket) => { accepted = s; });
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk({ port: portOf(server), host: '127.0.0.1', allowHalfOpen: true });
    await until(() => accepted !== null, 5000, 'the connection');
    const s = accepted! as Socket;
    const events: string[] = [];
    s.on('data', (d: Buffer) => events.push(`data ${d.length}`));
    s.on('end', () => events.push('end'));
    c.end('abc');
    await sleep(200);
    assert.equal(events.join(','), '', 'nothing seen while paused');
    assert.equal(s.readableEnded, false);
    s.resume();
    await until(() => events.includes('end'), 5000, "'end' after resume()");
    assert.deepEqual(events, ['data 3', 'end']);
    await closeServer(server, [c, s]);
  });
}
