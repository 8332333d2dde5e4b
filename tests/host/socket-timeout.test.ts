// Idle timeouts: socket.setTimeout(), the `timeout` option of connect(), and 'timeout'.
// Every test runs on node:net and on wasinet; peers are node:net. Times are lower bounds with a
// little slack for timer granularity; upper bounds are only "it happened at all".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { performance } from 'node:perf_hooks';
import { libs, serve, eventually, closed, until, sleep, type Net } from './helpers.js';

const SLACK = 25; // ms a timer may appear early by (the loop's cached clock)

/** A node:net echo peer. */
function echoPeer() {
  return serve(nodeNet, (p) => { p.on('data', (d) => p.write(d)); p.on('error', () => {}); });
}

async function connectedTo(net: Net, port: number): Promise<nodeNet.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await eventually(s, 'connect');
  return s;
}

function timeouts(s: nodeNet.Socket): number[] {
  const at: number[] = [];
  s.on('timeout', () => at.push(performance.now()));
  return at;
}

for (const [lib, net] of libs) {
  test(`${lib}: 'timeout' fires once after the idle time and does not close the socket`, { timeout: 10000 }, async () => {
    const peer = await echoPeer();
    try {
      const s = await connectedTo(net, peer.port);
      s.on('data', () => {});
      const at = timeouts(s);
      const t0 = performance.now();
      assert.equal(s.setTimeout(150), s);
      assert.equal(s.timeout, 150);
      await sleep(700);
      assert.equal(at.length, 1, 'one idle period, one timeout');
      assert.ok(at[0] - t0 >= 150 - SLACK, `fired after ${at[0] - t0} ms`);
      assert.equal(s.destroyed, false);
      assert.equal(s.writable, true);
      assert.equal(s.readyState, 'open');
      // Still usable.
      const echoed = eventually(s, 'data');
      s.write('still here');
      assert.equal(String((await echoed)[0]), 'still here');
      s.destroy();
    } finally { await peer.close(); }
  });

  test(`${lib}: a timeout set at the end of a long 'data' listener counts from then, not from the start of the turn`, { timeout: 10000 }, async () => {
    // Node starts a timeout from a fresh time (it updates libuv's cached one first): a core
    // input made inside the listener must read the clock too, not reuse the turn's `now`.
    const peer = await echoPeer();
    try {
      const s = await connectedTo(net, peer.port);
      const at = timeouts(s);
      let end = 0;
      s.once('data', () => {
        const t = performance.now();
        while (performance.now() - t < 300) { /* a long synchronous listener */ }
        s.setTimeout(400);
        end = performance.now();
      });
      s.write('x');
      await until(() => at.length === 1, 5000, 'timeout');
      assert.ok(at[0] - end >= 400 - SLACK, `fired ${Math.round(at[0] - end)} ms after the listener returned`);
      s.destroy();
    } finally { await peer.close(); }
  });

  test(`${lib}: after activity, 'timeout' fires again in the next idle period`, { timeout: 10000 }, async () => {
    const peer = await echoPeer();
    try {
      const s = await connectedTo(net, peer.port);
      s.on('data', () => {});
      const at = timeouts(s);
      s.setTimeout(120);
      await until(() => at.length === 1, 3000, 'first timeout');
      const t1 = performance.now();
      s.write('x');
      await until(() => at.length === 2, 3000, 'second timeout');
      assert.ok(at[1] - t1 >= 120 - SLACK, `second fired ${at[1] - t1} ms after the write`);
      await sleep(400);
      assert.equal(at.length, 2);
      s.destroy();
    } finally { await peer.close(); }
  });

  test(`${lib}: incoming data pushes the idle timeout back`, { timeout: 15000 }, async () => {
    let peerSock: nodeNet.Socket | null = null;
    const peer = await serve(nodeNet, (p) => { peerSock = p; p.resume(); });
    try {
      const s = await connectedTo(net, peer.port);
      await until(() => peerSock !== null, 5000, 'peer');
      let lastData = 0;
      s.on('data', () => { lastData = performance.now(); });
      const at = timeouts(s);
      s.setTimeout(400);
      const end = performance.now() + 1500;
      let sends = 0;
      while (performance.now() < end && sends < 100) {
        peerSock!.write('.');
        sends++;
        await sleep(50);
      }
      assert.equal(at.length, 0, 'no timeout while data kept arriving');
      await until(() => at.length === 1, 5000, 'timeout after the data stopped');
      assert.ok(at[0] - lastData >= 400 - SLACK, `fired ${at[0] - lastData} ms after the last data`);
      s.destroy();
    } finally { await peer.close(); }
  });

  test(`${lib}: our writes push the idle timeout back`, { timeout: 15000 }, async () => {
    const peer = await serve(nodeNet, (p) => { p.resume(); });
    try {
      const s = await connectedTo(net, peer.port);
      const at = timeouts(s);
      s.setTimeout(400);
      const end = performance.now() + 1500;
      let lastWrite = 0;
      let writes = 0;
      while (performance.now() < end && writes < 100) {
        s.write('.');
        lastWrite = performance.now();
        writes++;
        await sleep(50);
      }
      assert.equal(at.length, 0, 'no timeout while we kept writing');
      await until(() => at.length === 1, 5000, 'timeout after the writes stopped');
      assert.ok(at[0] - lastWrite >= 400 - SLACK, `fired ${at[0] - lastWrite} ms after the last write`);
      s.destroy();
    } finally { await peer.close(); }
  });

  test(`${lib}: setTimeout(0) disables the idle timeout`, { timeout: 10000 }, async () => {
    const peer = await echoPeer();
    try {
      const s = await connectedTo(net, peer.port);
      const at = timeouts(s);
      s.setTimeout(100);
      await sleep(30);
      assert.equal(s.setTimeout(0), s);
      assert.equal(s.timeout, 0);
      await sleep(400);
      assert.equal(at.length, 0);
      // And again after it has fired once.
      s.setTimeout(80);
      await until(() => at.length === 1, 3000, 'timeout');
      s.write('activity');
      s.setTimeout(0);
      await sleep(300);
      assert.equal(at.length, 1);
      s.destroy();
    } finally { await peer.close(); }
  });

  test(`${lib}: a timeout set before connect() fires once the socket is connected and idle`, { timeout: 10000 }, async () => {
    const peer = await echoPeer();
    try {
      const s = new net.Socket();
      const at = timeouts(s);
      const t0 = performance.now();
      s.setTimeout(250);
      assert.equal(s.timeout, 250);
      const state: string[] = [];
      s.on('timeout', () => state.push(`connecting=${s.connecting} destroyed=${s.destroyed}`));
      s.connect(peer.port, '127.0.0.1');
      await eventually(s, 'connect');
      await until(() => at.length === 1, 3000, 'timeout');
      await sleep(300);
      assert.equal(at.length, 1);
      assert.ok(at[0] - t0 >= 250 - SLACK, `fired after ${at[0] - t0} ms`);
      assert.deepEqual(state, ['connecting=false destroyed=false']);
      s.destroy();
    } finally { await peer.close(); }
  });

  test(`${lib}: the timeout option of net.connect() sets the idle timeout`, { timeout: 10000 }, async () => {
    const peer = await echoPeer();
    try {
      const s = net.connect({ port: peer.port, host: '127.0.0.1', timeout: 150 });
      assert.equal(s.timeout, 150);
      const at = timeouts(s);
      await eventually(s, 'connect');
      await until(() => at.length === 1, 3000, 'timeout');
      await sleep(300);
      assert.equal(at.length, 1);
      assert.equal(s.destroyed, false);
      s.destroy();
    } finally { await peer.close(); }
  });

  test(`${lib}: setTimeout(ms, cb) calls cb once on 'timeout'; setTimeout(0, cb) removes it`, { timeout: 10000 }, async () => {
    const peer = await echoPeer();
    try {
      const s = await connectedTo(net, peer.port);
      const base = s.listenerCount('timeout');
      const calls: unknown[][] = [];
      let self: unknown = null;
      const cb = function (this: unknown, ...args: unknown[]) { self = this; calls.push(args); };
      s.setTimeout(100, cb);
      assert.equal(s.listenerCount('timeout'), base + 1);
      await until(() => calls.length === 1, 3000, 'callback');
      assert.deepEqual(calls, [[]]);
      assert.equal(self, s);
      assert.equal(s.listenerCount('timeout'), base, 'a once listener');
      s.write('activity');
      await sleep(300);
      assert.equal(calls.length, 1, 'not called for the next timeout');

      const never = () => assert.fail('removed callback called');
      s.setTimeout(100, never);
      assert.equal(s.listenerCount('timeout'), base + 1);
      s.setTimeout(0, never);
      assert.equal(s.listenerCount('timeout'), base);
      await sleep(300);
      s.destroy();
    } finally { await peer.close(); }
  });

  test(`${lib}: setTimeout() on a server's socket`, { timeout: 10000 }, async () => {
    const at: number[] = [];
    let t0 = 0;
    const srv = await serve(net, (s) => {
      t0 = performance.now();
      s.setTimeout(150, () => { at.push(performance.now()); s.end(); });
    });
    try {
      const c = nodeNet.connect(srv.port, '127.0.0.1');
      c.resume();
      const done = closed(c);
      await done;
      assert.equal(at.length, 1);
      assert.ok(at[0] - t0 >= 150 - SLACK, `fired after ${at[0] - t0} ms`);
    } finally { await srv.close(); }
  });

  test(`${lib}: 'timeout' fires while a write is stuck behind a paused peer`, { timeout: 15000 }, async () => {
    const peer = await serve(nodeNet, (p) => { p.pause(); });
    try {
      const s = await connectedTo(net, peer.port);
      const at = timeouts(s);
      const chunk = Buffer.alloc(1024 * 1024, 3);
      for (let i = 0; i < 64; i++) s.write(chunk);
      s.setTimeout(200);
      await until(() => at.length === 1, 5000, 'timeout with a write pending');
      assert.ok(s.writableLength > 0, 'the write was still pending');
      s.destroy();
    } finally { await peer.close(); }
  });

  test(`${lib}: setTimeout() validates its arguments like Node`, { timeout: 5000 }, () => {
    const s = new net.Socket();
    const range = (v: number, shown: string) => assert.throws(() => s.setTimeout(v), (e: NodeJS.ErrnoException) => {
      assert.ok(e instanceof RangeError);
      assert.equal(e.code, 'ERR_OUT_OF_RANGE');
      assert.equal(e.message, `The value of "msecs" is out of range. It must be a non-negative finite number. Received ${shown}`);
      return true;
    });
    range(-1, '-1');
    range(Infinity, 'Infinity');
    range(NaN, 'NaN');
    s.destroy();
  });
}
