// A server that listens again while connections from its earlier listens are still open: they
// keep counting (getConnections), 'close' waits for all of them and comes once, and listening /
// address() follow each listen and close. Every test runs on node:net and on wasinet with the
// same assertions (so they state Node's behaviour); clients are node:net.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { libs, sleep, until } from './helpers.js';
import { disposeAll, portOf, connectOk, track, type Server, type Socket } from './server-util.js';

afterEach(disposeAll);

function count(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

/** listen(0) on loopback; resolves on 'listening', with what `listening` said right after the call. */
function listenAgain(server: Server): Promise<boolean> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1');
    const at = server.listening;
    server.once('listening', () => { server.off('error', reject); resolve(at); });
  });
}

for (const [lib, net] of libs) {
  test(`${lib}: three listens, each closed with a connection open: counts carry over, 'close' once after the last`, { timeout: 15000 }, async () => {
    const server = net.createServer((s: Socket) => { s.on('error', () => {}); });
    const accepted = track(server);
    let closes = 0;
    server.on('close', () => { closes++; });
    const clients: Socket[] = [];
    for (let cycle = 0; cycle < 3; cycle++) {
      assert.equal(await listenAgain(server), false, 'a listen on a host name is not bound before its lookup');
      assert.equal(server.listening, true);
      const port = portOf(server);
      assert.equal(await count(server), cycle, 'connections of earlier listens still count');
      const c = await connectOk(port, '127.0.0.1');
      c.on('error', () => {});
      clients.push(c);
      await until(() => accepted.length === cycle + 1, 5000, 'accepted');
      assert.equal(await count(server), cycle + 1);
      server.close();
      assert.equal(server.listening, false);
      assert.equal(server.address(), null);
      assert.equal(await count(server), cycle + 1, 'a closed server still counts its open connections');
    }
    let cbCalled = 0;
    let cbErr: unknown = 'not called';
    server.close((err) => { cbCalled++; cbErr = err; }); // not running: ERR_SERVER_NOT_RUNNING on 'close'
    for (let i = 0; i < 2; i++) {
      clients[i].destroy();
      await until(() => accepted[i].destroyed, 5000, `accepted ${i} destroyed`);
    }
    await sleep(50);
    assert.equal(closes, 0, "no 'close' while a connection is open");
    assert.equal(await count(server), 1);
    clients[2].destroy();
    await until(() => closes === 1, 5000, "'close'");
    await sleep(50);
    assert.equal(closes, 1, "'close' once");
    assert.equal(cbCalled, 1);
    assert.equal((cbErr as NodeJS.ErrnoException | undefined)?.code, 'ERR_SERVER_NOT_RUNNING');
    assert.equal(await count(server), 0);
  });

  test(`${lib}: listen again while an earlier connection is open, then close with none left: 'close' once, when the old one goes`, { timeout: 15000 }, async () => {
    const server = net.createServer((s: Socket) => { s.on('error', () => {}); });
    const accepted = track(server);
    let closes = 0;
    server.on('close', () => { closes++; });
    await listenAgain(server);
    const c = await connectOk(portOf(server), '127.0.0.1');
    c.on('error', () => {});
    await until(() => accepted.length === 1, 5000, 'accepted');
    server.close();
    await listenAgain(server);
    const address = server.address() as { port: number };
    assert.equal(typeof address.port, 'number');
    let closedWith: unknown = 'not called';
    server.close((err) => { closedWith = err; });
    await sleep(50);
    assert.equal(closes, 0, "the first listen's connection holds 'close' back");
    c.destroy();
    await until(() => closes === 1, 5000, "'close'");
    await sleep(50);
    assert.equal(closes, 1);
    assert.equal(closedWith, undefined, 'the close() callback of a running server gets no error');
  });
}
