// Half-open connections: what a socket does after the peer's FIN, with allowHalfOpen false (it
// ends its side once its queued writes are flushed) and true (it stays writable until end()).
// The socket under test is a client (peer = node:net server) and a server's socket (peer =
// node:net client). Every test runs on node:net and on wasinet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { createHash } from 'node:crypto';
import { libs, serve, eventLog, closed, until, sleep, pattern, hashUntilEnd, sockPath, type Net } from './helpers.js';

const MiB = 1024 * 1024;

interface PeerResult { got: Promise<{ hash: string; bytes: number }> }

/** The node:net peer: reads nothing at first, sends 'bye' and its FIN at once, reads all later. */
function peerBehaviour(p: nodeNet.Socket, result: Partial<PeerResult>): void {
  p.pause();
  p.on('error', () => {});
  p.end('bye');
  setTimeout(() => { result.got = hashUntilEnd(p); p.resume(); }, 300);
}

interface Observed {
  log: string[];
  atEnd: string;
  later: string;
  sent: { hash: string; bytes: number };
  closed: Promise<unknown[]>;
}

/** The socket under test: writes `before` bytes at once; after the peer's FIN maybe more. */
function ourBehaviour(s: nodeNet.Socket, before: number, after: number): Observed {
  const h = createHash('sha256');
  let bytes = 0;
  const send = (seed: number, size: number) => {
    for (const b of pattern(seed, size, MiB)) { h.update(b); bytes += b.length; s.write(b); }
  };
  const obs: Observed = {
    log: eventLog(s, ['data', 'end', 'finish', 'error', 'close']),
    atEnd: '',
    later: '',
    sent: { hash: '', bytes: 0 },
    closed: closed(s),
  };
  const state = () => `writable=${s.writable} writableEnded=${s.writableEnded} destroyed=${s.destroyed}`;
  const received: Buffer[] = [];
  s.on('data', (d) => received.push(d));
  send(1, before);
  s.on('end', () => {
    obs.atEnd = `${state()} queued=${s.writableLength > 0} got=${Buffer.concat(received)}`;
    setTimeout(() => {
      obs.later = state();
      if (after > 0 && s.writable) {
        send(2, after);
        s.end();
      }
      obs.sent = { hash: h.digest('hex'), bytes };
    }, 200);
  });
  return obs;
}

async function check(obs: Observed, peer: Partial<PeerResult>, allowHalfOpen: boolean, total: number): Promise<void> {
  const [hadError] = await obs.closed;
  await until(() => peer.got !== undefined, 5000, 'the peer to read');
  const got = await peer.got!;
  await until(() => obs.sent.bytes > 0, 5000, 'our side to finish writing');
  assert.equal(hadError, false);
  // When the peer's FIN arrived we still had queued writes, and were still writable.
  assert.equal(obs.atEnd, 'writable=true writableEnded=false destroyed=false queued=true got=bye');
  if (allowHalfOpen) {
    assert.equal(obs.later, 'writable=true writableEnded=false destroyed=false');
  } else {
    // Our side was ended for us; the socket closed once both directions were done.
    assert.match(obs.later, /^writable=false writableEnded=true /);
  }
  assert.equal(got.bytes, total, 'the peer received every byte we wrote, then our FIN');
  assert.equal(got.hash, obs.sent.hash);
  assert.equal(obs.sent.bytes, total);
  assert.deepEqual(obs.log.filter((l) => !l.startsWith('data')), ['end', 'finish', 'close false']);
}

for (const [lib, net] of libs) {
  for (const [transport, allowHalfOpen] of [['TCP', false], ['TCP', true], ['Unix socket', false], ['Unix socket', true]] as const) {
    const what = allowHalfOpen
      ? 'allowHalfOpen true: after the peer\'s FIN it stays writable until end(), and everything arrives'
      : 'allowHalfOpen false: after the peer\'s FIN it flushes its queued writes, then ends its side';
    const before = 32 * MiB;
    const after = allowHalfOpen ? 4 * MiB : 0;

    const where = () => (transport === 'TCP' ? undefined : sockPath('half'));

    test(`${lib}: ${transport} client, ${what}`, { timeout: 30000 }, async () => {
      const peer: Partial<PeerResult> = {};
      const srv = await serve(nodeNet, (p) => peerBehaviour(p, peer), {}, where());
      try {
        const s = (net as Net).connect({ ...srv.connectTo, allowHalfOpen });
        assert.equal(s.allowHalfOpen, allowHalfOpen);
        const obs = ourBehaviour(s, before, after);
        await check(obs, peer, allowHalfOpen, before + after);
      } finally { await srv.close(); }
    });

    test(`${lib}: ${transport} server's socket, ${what}`, { timeout: 30000 }, async () => {
      let obs: Observed | null = null;
      let halfOpenOfSocket: boolean | null = null;
      const srv = await serve(net, (s) => {
        halfOpenOfSocket = s.allowHalfOpen;
        obs = ourBehaviour(s, before, after);
      }, { allowHalfOpen }, where());
      const c = nodeNet.connect(srv.connectTo);
      try {
        const peer: Partial<PeerResult> = {};
        peerBehaviour(c, peer);
        await until(() => obs !== null, 5000, 'connection');
        assert.equal(halfOpenOfSocket, allowHalfOpen);
        await check(obs!, peer, allowHalfOpen, before + after);
      } finally { c.destroy(); await srv.close(); }
    });
  }

  test(`${lib}: allowHalfOpen true: end() after the peer's FIN sends ours and closes; no auto-end`, { timeout: 10000 }, async () => {
    let answer: Promise<{ hash: string; bytes: number }> | null = null;
    const srv = await serve(nodeNet, (p) => {
      answer = hashUntilEnd(p);
      p.end('question?');
    });
    try {
      const s = net.connect({ port: srv.port, host: '127.0.0.1', allowHalfOpen: true });
      const log = eventLog(s, ['data', 'end', 'finish', 'close']);
      const done = closed(s);
      await new Promise((r) => s.once('end', r));
      await sleep(300);
      assert.equal(s.writableEnded, false);
      assert.equal(s.readyState, 'writeOnly');
      s.end('answer');
      await done;
      assert.deepEqual(log, ['data <9>', 'end', 'finish', 'close false']);
      assert.equal((await answer!).bytes, 6);
    } finally { await srv.close(); }
  });

  test(`${lib}: allowHalfOpen false: readyState is 'writeOnly' in 'end', then the socket closes by itself`, { timeout: 10000 }, async () => {
    const srv = await serve(nodeNet, (p) => { p.resume(); p.end('x'); });
    try {
      const s = net.connect({ port: srv.port, host: '127.0.0.1' });
      const log = eventLog(s, ['data', 'end', 'finish', 'close']);
      const states: string[] = [];
      s.on('end', () => states.push(s.readyState));
      await closed(s);
      states.push(s.readyState);
      assert.deepEqual(log, ['data <1>', 'end', 'finish', 'close false']);
      assert.deepEqual(states, ['writeOnly', 'closed']);
    } finally { await srv.close(); }
  });
}
