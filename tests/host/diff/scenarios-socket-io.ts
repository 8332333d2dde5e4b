// Differential scenarios for a connected net.Socket: half-close (allowHalfOpen), socket options and
// methods (setEncoding, setTimeout, setNoDelay, setKeepAlive, pause/resume, ref/unref), write/end
// callbacks, destroy / resetAndDestroy, write errors, onread, and the stream interfaces
// ('readable' + read(), async iteration, pipe, pipeline, backpressure). The far side is `peer`.
import type { Socket } from 'node:net';
import { PassThrough, Readable, Writable, Transform, pipeline } from 'node:stream';
import type { Scenario } from './harness.js';
import { summarize } from './harness.js';
import { closedP } from './scenarios-socket.js';
import { props, thrown, once, serve, servePipe, stop } from './util.js';

/** Peer-side socket handed over from a peer server's connection listener. */
function holder() {
  const h: { s: Socket | null; wait(): Promise<Socket> } = {
    s: null,
    wait: () => new Promise((r) => {
      const check = () => (h.s ? r(h.s) : setTimeout(check, 1));
      check();
    }),
  };
  return h;
}

export const socketIoScenarios: Scenario[] = [
  // ------------------------------------------------------------------ allowHalfOpen
  {
    name: 'allowHalfOpen false, peer ends first: end, then our automatic end, finish, close',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.on('end', () => ctx.log.note('peer', 'end'));
        s.resume();
        s.end('from peer');
      }, { allowHalfOpen: true });
      const c = ctx.net.connect({ port, host: '127.0.0.1', allowHalfOpen: false });
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `allowHalfOpen=${c.allowHalfOpen}`);
      c.on('end', () => ctx.log.note('client', `in end: ${props(c)} writable=${c.writable} writableEnded=${c.writableEnded}`));
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'allowHalfOpen true, peer ends first: we keep writing, then end ourselves',
    async run(ctx) {
      let got = 0;
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', (d: Buffer) => { got += d.length; });
        s.on('end', () => ctx.log.note('peer', `end got=${got}`));
        s.end('half');
      }, { allowHalfOpen: true });
      const c = ctx.net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `allowHalfOpen=${c.allowHalfOpen}`);
      await once(c, 'end');
      ctx.log.note('client', `after end ${props(c)} writable=${c.writable}`);
      ctx.log.note('client', `write after peer FIN -> ${c.write('still here', () => ctx.log.note('client', 'write cb'))}`);
      await ctx.sleep(20);
      ctx.log.note('client', `before our end ${props(c)}`);
      c.end('bye');
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'allowHalfOpen false, we end first: the peer answers after our FIN, then ends',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.resume();
        s.on('end', () => {
          ctx.log.note('peer', 'end');
          s.write('late answer');
          setTimeout(() => s.end('last'), 10);
        });
      }, { allowHalfOpen: true });
      const c = ctx.net.connect({ port, host: '127.0.0.1' });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      c.end('request');
      ctx.log.note('client', `after end() ${props(c)} writable=${c.writable}`);
      await once(c, 'finish');
      ctx.log.note('client', `after finish readyState=${c.readyState}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'allowHalfOpen true, we end first: the peer keeps writing, then ends; close after both',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.resume();
        s.on('end', () => {
          ctx.log.note('peer', 'end');
          s.write('x'.repeat(1000));
          setTimeout(() => s.end(), 10);
        });
      }, { allowHalfOpen: true });
      const c = ctx.net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      c.end();
      await once(c, 'finish');
      ctx.log.note('client', `after finish ${props(c)}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'write in the end handler without allowHalfOpen: "This socket has been ended by the other party"',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.resume();
        s.on('error', () => {});
        s.end();
      }, { allowHalfOpen: true });
      const c = ctx.net.connect({ port, host: '127.0.0.1' });
      ctx.log.watch(c, 'client');
      c.on('end', () => {
        ctx.log.note('client', `in end writableEnded=${c.writableEnded}`);
        setImmediate(() => {
          const r = c.write('too late', (err?: Error | null) => ctx.log.note('client', `write cb ${summarize(err)}`));
          ctx.log.note('client', `write -> ${r} destroyed=${c.destroyed}`);
        });
      });
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  // ------------------------------------------------------------------ options and setters
  {
    name: 'noDelay and keepAlive options; setNoDelay/setKeepAlive return the socket at every stage',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const c = ctx.net.connect({ port, host: '127.0.0.1', noDelay: true, keepAlive: true, keepAliveInitialDelay: 1000 });
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `connecting: setNoDelay()===c ${c.setNoDelay() === c} setNoDelay(false)===c ${c.setNoDelay(false) === c} setKeepAlive(true, 500)===c ${c.setKeepAlive(true, 500) === c}`);
      await once(c, 'connect');
      ctx.log.note('client', `connected: setNoDelay(true)===c ${c.setNoDelay(true) === c} setKeepAlive(false)===c ${c.setKeepAlive(false) === c} setKeepAlive()===c ${c.setKeepAlive() === c}`);
      c.write('ping');
      c.end();
      await closedP(c);
      ctx.log.note('client', `closed: setNoDelay()===c ${c.setNoDelay() === c} setKeepAlive(true)===c ${c.setKeepAlive(true) === c}`);
      const d = new ctx.net.Socket();
      ctx.log.note('unconnected', `setNoDelay()===d ${d.setNoDelay() === d} setKeepAlive(true, 10)===d ${d.setKeepAlive(true, 10) === d}`);
      d.destroy();
      ctx.log.watch(d, 'unconnected', ['close']);
      await closedP(d);
      await stop(server);
    },
  },
  {
    name: 'setEncoding utf8: strings, multibyte characters split across writes',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        const bytes = Buffer.from('héllo wörld €', 'utf8');
        let i = 0;
        const next = () => {
          if (i >= bytes.length) { s.end(); return; }
          s.write(bytes.subarray(i, i + 1));
          i++;
          setTimeout(next, 1);
        };
        next();
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.note('client', `setEncoding returns socket ${c.setEncoding('utf8') === c} readableEncoding=${c.readableEncoding}`);
      let text = '';
      const types = new Set<string>();
      c.on('data', (d: unknown) => { types.add(typeof d); text += d; });
      ctx.log.watch(c, 'client', ['connect', 'end', 'finish', 'error', 'close']);
      await closedP(c);
      ctx.log.note('client', `text=${JSON.stringify(text)} types=${[...types].join(',')} bytesRead=${c.bytesRead}`);
      await stop(server);
    },
  },
  {
    name: 'setEncoding hex and setEncoding after data arrived',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end(Buffer.from([0xde, 0xad, 0xbe, 0xef])); });
      const c = ctx.net.connect(port, '127.0.0.1');
      c.setEncoding('hex');
      const chunks: string[] = [];
      c.on('data', (d: string) => chunks.push(d));
      ctx.log.watch(c, 'client', ['end', 'close']);
      await closedP(c);
      ctx.log.note('client', `hex=${chunks.join('')}`);
      ctx.log.note('client', `setEncoding("bogus") ${thrown(() => c.setEncoding('bogus' as BufferEncoding))}`);
      await stop(server);
    },
  },
  {
    name: 'setTimeout: idle timeout fires once, not again while idle, again after activity; setTimeout(0) disables it',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      ctx.log.note('client', `setTimeout(30) returns socket ${c.setTimeout(30) === c} timeout=${c.timeout}`);
      await once(c, 'timeout');
      ctx.log.note('client', `first timeout ${props(c)}`);
      await ctx.sleep(100);
      ctx.log.note('client', 'idle 100 ms more, writing');
      c.write('activity');
      await once(c, 'timeout');
      ctx.log.note('client', `timeout after activity destroyed=${c.destroyed}`);
      c.setTimeout(0);
      ctx.log.note('client', `setTimeout(0) timeout=${c.timeout}`);
      c.write('more activity');
      await ctx.sleep(100);
      ctx.log.note('client', `after 100 ms idle destroyed=${c.destroyed}`);
      c.end();
      await closedP(c);
      await stop(server);
    },
  },
  {
    // Node's onStreamRead refreshes the timeout for every read, EOF included.
    name: 'setTimeout: the peer\'s FIN is activity too (allowHalfOpen): the idle timer restarts at the end',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); setTimeout(() => s.end(), 120); });
      const c = ctx.net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      ctx.log.watch(c, 'client', ['connect', 'timeout', 'end', 'error', 'close']);
      await once(c, 'connect');
      c.resume();
      c.setTimeout(200);
      // The end comes at about 120 ms: the timeout is due 200 ms after it, not 200 ms after setTimeout.
      await ctx.sleep(260);
      ctx.log.note('client', `at 260 ms: ${c.readableEnded ? 'ended' : 'not ended'}`);
      await once(c, 'timeout');
      ctx.log.note('client', 'timeout came');
      c.end();
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'setTimeout with a callback: a once listener, removed by setTimeout(0, cb); activity restarts the timer',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', () => {});
        s.on('end', () => s.end());
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client', ['connect', 'timeout', 'finish', 'end', 'error', 'close']);
      await once(c, 'connect');
      const cb = () => ctx.log.note('client', 'timeout callback');
      c.setTimeout(40, cb);
      ctx.log.note('client', `listeners=${c.listenerCount('timeout')}`);
      c.setTimeout(0, cb);
      ctx.log.note('client', `after setTimeout(0, cb) listeners=${c.listenerCount('timeout')}`);
      c.setTimeout(100, cb);
      // Writes every 20 ms keep it active: no timeout during them.
      for (let i = 0; i < 5; i++) {
        await ctx.sleep(20);
        c.write('k');
      }
      ctx.log.note('client', 'writes done');
      await once(c, 'timeout');
      ctx.log.note('client', `after timeout listeners=${c.listenerCount('timeout')}`);
      ctx.log.note('client', `setTimeout(-1) ${thrown(() => c.setTimeout(-1))}`);
      ctx.log.note('client', `setTimeout("1") ${thrown(() => c.setTimeout('1' as never))}`);
      ctx.log.note('client', `setTimeout(1, "x") ${thrown(() => c.setTimeout(1, 'x' as never))}`);
      ctx.log.note('client', `setTimeout(Infinity) ${thrown(() => c.setTimeout(Infinity))}`);
      c.setTimeout(0);
      c.end();
      await closedP(c);
      await stop(server);
    },
  },
  // ------------------------------------------------------------------ write / end
  {
    name: 'write callbacks run in order, before finish; the end callback after finish',
    async run(ctx) {
      let got = '';
      const [server, port] = await serve(ctx, (s) => {
        s.setEncoding('latin1');
        s.on('data', (d) => { got += d; });
        s.on('end', () => { ctx.log.note('peer', `end got=${JSON.stringify(got)}`); s.end(); });
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      ctx.log.note('client', `w1 -> ${c.write('one', (e?: Error | null) => ctx.log.note('client', `w1 cb ${summarize(e)}`))}`);
      ctx.log.note('client', `w2 -> ${c.write(Buffer.from('two'), (e?: Error | null) => ctx.log.note('client', `w2 cb ${summarize(e)}`))}`);
      ctx.log.note('client', `w3 -> ${c.write(new Uint8Array([51]), (e?: Error | null) => ctx.log.note('client', `w3 cb ${summarize(e)}`))}`);
      ctx.log.note('client', `w4 empty -> ${c.write('', (e?: Error | null) => ctx.log.note('client', `w4 cb ${summarize(e)}`))}`);
      const r = c.end((e?: Error | null) => ctx.log.note('client', `end cb ${summarize(e)}`));
      ctx.log.note('client', `end() returns socket ${r === c} ${props(c)}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'write(data, encoding, cb) and end(data, encoding, cb) with hex, base64 and latin1',
    async run(ctx) {
      const chunks: Buffer[] = [];
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', (d: Buffer) => chunks.push(d));
        s.on('end', () => { ctx.log.note('peer', `end got=${Buffer.concat(chunks).toString('hex')}`); s.end(); });
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `hex -> ${c.write('cafe', 'hex', () => ctx.log.note('client', 'hex cb'))} bytesWritten=${c.bytesWritten}`);
      ctx.log.note('client', `base64 -> ${c.write('AQID', 'base64', () => ctx.log.note('client', 'base64 cb'))} bytesWritten=${c.bytesWritten}`);
      ctx.log.note('client', `latin1 -> ${c.write('\u00ff', 'latin1')} bytesWritten=${c.bytesWritten}`);
      c.end('\u00e9', 'utf8', () => ctx.log.note('client', 'end cb'));
      ctx.log.note('client', `after end bytesWritten=${c.bytesWritten}`);
      await closedP(c);
      ctx.log.note('client', `closed bytesWritten=${c.bytesWritten}`);
      await stop(server);
    },
  },
  {
    name: 'write() argument errors: number, null, object',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      ctx.log.note('write(1)', thrown(() => c.write(1 as never)));
      ctx.log.note('write(null)', thrown(() => c.write(null as never)));
      ctx.log.note('write({})', thrown(() => c.write({} as never)));
      ctx.log.note('write("x", "bogus")', thrown(() => c.write('x', 'bogus' as BufferEncoding)));
      ctx.log.note('end(1)', thrown(() => c.end(1 as never)));
      ctx.log.note('client', `after errors ${props(c)}`);
      c.end();
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'write after end(): ERR_STREAM_WRITE_AFTER_END to the callback and as error',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      c.end();
      const r = c.write('late', (e?: Error | null) => ctx.log.note('client', `write cb ${summarize(e)}`));
      ctx.log.note('client', `write -> ${r} ${props(c)}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'write on a never-connected socket',
    async run(ctx) {
      const c = new ctx.net.Socket();
      ctx.log.watch(c, 'client');
      const r = c.write('nowhere', (e?: Error | null) => ctx.log.note('client', `write cb ${summarize(e)}`));
      ctx.log.note('client', `write -> ${r} ${props(c)}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
    },
  },
  // ------------------------------------------------------------------ many small writes in one turn
  // (wasinet batches them into one WRITE at the end of the turn: nothing of it may show)
  {
    name: 'small writes in one turn: each write() true, nothing buffered, callbacks in order on the next tick; the peer gets all',
    async run(ctx) {
      let got = '';
      const [server, port] = await serve(ctx, (s) => {
        s.setEncoding('latin1');
        s.on('data', (d: string) => { got += d; });
        s.on('end', () => { ctx.log.note('peer', `end got=${got.length} ok=${got === expected}`); s.end(); });
      });
      let expected = '';
      const c = ctx.net.connect({ port, host: '127.0.0.1' });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      const answers: string[] = [];
      for (let i = 0; i < 200; i++) {
        const chunk = `<${i}:${'x'.repeat(i % 50)}>`;
        expected += chunk;
        answers.push(`${c.write(chunk, () => ctx.log.note('client', `cb ${i}`))}/${c.writableLength}`);
      }
      ctx.log.note('client', `answers ${[...new Set(answers)].join(',')} bufferSize=${c.bufferSize} bytesWritten=${c.bytesWritten}`);
      process.nextTick(() => ctx.log.note('client', 'next tick'));
      c.end();
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'small writes then destroy() in the same turn: every byte still reaches the peer',
    async run(ctx) {
      let got = '';
      let peerClosed = false;
      const [server, port] = await serve(ctx, (s) => {
        s.setEncoding('latin1');
        s.on('data', (d: string) => { got += d; });
        s.on('error', (e: Error) => ctx.log.note('peer', `error ${summarize(e)}`));
        s.on('close', () => { peerClosed = true; });
      });
      const c = ctx.net.connect({ port, host: '127.0.0.1' });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      for (let i = 0; i < 100; i++) c.write('0123456789');
      c.destroy();
      await closedP(c);
      await ctx.until(() => peerClosed, 2000).catch(() => {});
      ctx.log.note('peer', `closed=${peerClosed} got=${got.length}`);
      await stop(server);
    },
  },
  // ------------------------------------------------------------------ destroy / reset
  {
    name: 'destroy(): close(false) without error, properties after, ERR_STREAM_DESTROYED on write',
    async run(ctx) {
      const peer = holder();
      const [server, port] = await serve(ctx, (s) => {
        peer.s = s;
        s.resume();
        s.on('end', () => ctx.log.note('peer', 'end'));
        s.on('close', (e: boolean) => ctx.log.note('peer', `close ${e}`));
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      await peer.wait();
      const r = c.destroy();
      ctx.log.note('client', `destroy() returns socket ${r === c} ${props(c)}`);
      const w = c.write('x', (e?: Error | null) => ctx.log.note('client', `write cb ${summarize(e)}`));
      ctx.log.note('client', `write after destroy -> ${w}`);
      ctx.log.note('client', `destroy() again ${thrown(() => c.destroy())}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await closedP(peer.s!);
      await stop(server);
    },
  },
  {
    name: 'destroy(err): error with that error, then close(true)',
    async run(ctx) {
      const peer = holder();
      const [server, port] = await serve(ctx, (s) => { peer.s = s; s.resume(); s.on('end', () => ctx.log.note('peer', 'end')); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      await peer.wait();
      const err = Object.assign(new Error('boom'), { code: 'EBOOM' });
      c.on('error', (e: Error) => ctx.log.note('client', `error is the same object ${e === err}`));
      c.destroy(err);
      ctx.log.note('client', `after destroy(err) ${props(c)} errored=${summarize(c.errored)}`);
      await closedP(c);
      await closedP(peer.s!);
      await stop(server);
    },
  },
  {
    name: 'resetAndDestroy(): close, the peer gets ECONNRESET',
    async run(ctx) {
      const peer = holder();
      const [server, port] = await serve(ctx, (s) => {
        peer.s = s;
        s.resume();
        ctx.log.watch(s, 'peer', ['end', 'error', 'close']);
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      await peer.wait();
      const r = c.resetAndDestroy();
      ctx.log.note('client', `resetAndDestroy() returns socket ${r === c} ${props(c)}`);
      await closedP(c);
      await closedP(peer.s!);
      await stop(server);
    },
  },
  {
    name: 'the peer resets: ECONNRESET error with syscall read, then close(true)',
    async run(ctx) {
      let gotData = false;
      const [server, port] = await serve(ctx, (s) => {
        // Resets once the client has read what was sent before.
        s.write('before reset', () => { ctx.until(() => gotData).then(() => s.resetAndDestroy(), () => s.destroy()); });
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      c.on('data', () => { gotData = true; });
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'resetAndDestroy() on a Unix socket throws; on a never-connected socket it errors ERR_SOCKET_CLOSED',
    async run(ctx) {
      const [server, path] = await servePipe(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const c = ctx.net.connect(path);
      ctx.log.watch(c, 'pipe');
      await once(c, 'connect');
      ctx.log.note('pipe', `resetAndDestroy() ${thrown(() => c.resetAndDestroy())} destroyed=${c.destroyed}`);
      c.end();
      await closedP(c);
      const d = new ctx.net.Socket();
      ctx.log.watch(d, 'unconnected');
      ctx.log.note('unconnected', `resetAndDestroy() ${thrown(() => d.resetAndDestroy())} destroyed=${d.destroyed}`);
      await closedP(d);
      await stop(server);
    },
  },
  {
    name: 'write after the peer closed a Unix socket (allowHalfOpen): EPIPE',
    async run(ctx) {
      const [server, path] = await servePipe(ctx, (s) => { s.destroy(); });
      const c = ctx.net.connect({ path, allowHalfOpen: true });
      ctx.log.watch(c, 'client');
      await once(c, 'end');
      await ctx.sleep(10);
      const r = c.write('into the void', (e?: Error | null) => ctx.log.note('client', `write cb ${summarize(e)}`));
      ctx.log.note('client', `write -> ${r}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    // wasinet confirms a turn's small writes at once and sends them at the turn's end; when the
    // kernel then refuses them, end()'s callback gets the error before the socket is destroyed,
    // as it does on node:net, where the write itself failed.
    name: 'writes made while connecting to a server that drops the connection at once: the second fails, and end()\'s callback gets the error before the destroy',
    async run(ctx) {
      // The server closes each connection unread, so the kernel answers our first write with a
      // reset (on loopback, inside that write's own system call) and refuses the next (EPIPE).
      const [server, port] = await serve(ctx, (s) => { s.on('error', () => {}); s.destroy(); }, { pauseOnConnect: true });
      const c = ctx.net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      ctx.log.watch(c, 'client');
      await new Promise((r) => process.nextTick(r));
      c.write(Buffer.alloc(16384, 97), (e?: Error | null) => ctx.log.note('client', `write cb ${summarize(e)} destroyed=${c.destroyed}`));
      c.end(Buffer.alloc(100, 65), (e?: Error | null) => ctx.log.note('client', `end cb ${summarize(e)} destroyed=${c.destroyed} readyState=${c.readyState}`));
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    // Node counts a Buffer, a writev, a hex/base64 string or a string over 16 KiB in the
    // worst case when it is dispatched, and a short latin1/ascii/utf8/ucs2 string only when the
    // kernel takes it: what a refused write leaves in bytesWritten depends on its form.
    name: 'bytesWritten after a write the kernel refuses (EPIPE): Buffers and long strings count, short strings do not',
    async run(ctx) {
      const forms: [string, (c: Socket) => void][] = [
        ['utf8 5461 chars', (c) => c.write('a'.repeat(5461))],
        ['utf8 5462 chars', (c) => c.write('a'.repeat(5462))],
        ['latin1 16384', (c) => c.write('a'.repeat(16384), 'latin1')],
        ['latin1 16385', (c) => c.write('a'.repeat(16385), 'latin1')],
        ['ucs2 100', (c) => c.write('a'.repeat(100), 'ucs2')],
        ['hex 50 bytes', (c) => c.write('ab'.repeat(50), 'hex')],
        ['Buffer 100', (c) => c.write(Buffer.alloc(100))],
        ['Uint8Array 100', (c) => c.write(new Uint8Array(100))],
        ['corked strings', (c) => { c.cork(); c.write('abc'); c.write('defg'); c.uncork(); }],
        ['two strings', (c) => { c.write('abc'); c.write('defg'); }],
        ['end(Buffer)', (c) => c.end(Buffer.alloc(38))],
      ];
      for (const [form, write] of forms) {
        const [server, path] = await servePipe(ctx, (s) => { s.destroy(); });
        const c = ctx.net.connect({ path, allowHalfOpen: true });
        c.on('error', (e) => ctx.log.note('client', `${form}: error ${summarize(e)}`));
        await once(c, 'end');
        await ctx.sleep(5);
        write(c);
        ctx.log.note('client', `${form}: after the call bytesWritten=${c.bytesWritten}`);
        await closedP(c);
        ctx.log.note('client', `${form}: closed bytesWritten=${c.bytesWritten}`);
        await stop(server);
      }
    },
  },
  {
    name: 'destroySoon(): ends, then destroys after finish',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.resume();
        s.on('error', () => {});
        s.on('end', () => { ctx.log.note('peer', 'end'); s.end(); });
        s.on('close', () => ctx.log.note('peer', 'close'));
      }, { allowHalfOpen: true });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      c.write('last words');
      (c as Socket & { destroySoon(): void }).destroySoon();
      ctx.log.note('client', `after destroySoon() ${props(c)}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  // ------------------------------------------------------------------ reading
  {
    name: 'pause() holds data back, resume() delivers it; isPaused and readableFlowing',
    async run(ctx) {
      const peer = holder();
      const [server, port] = await serve(ctx, (s) => { peer.s = s; s.resume(); s.on('end', () => s.end()); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      const ps = await peer.wait();
      ctx.log.note('client', `pause() returns socket ${c.pause() === c} isPaused=${c.isPaused()} flowing=${c.readableFlowing}`);
      ps.write('while paused');
      await ctx.until(() => c.readableLength === 12);
      await ctx.sleep(10);
      ctx.log.note('client', `paused readableLength=${c.readableLength} bytesRead=${c.bytesRead}`);
      ctx.log.note('client', `resume() returns socket ${c.resume() === c} isPaused=${c.isPaused()}`);
      await ctx.sleep(10);
      ctx.log.note('client', `resumed readableLength=${c.readableLength}`);
      c.end();
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'ref() and unref() return the socket, before connect and after, and the socket still works',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.end('ok'); });
      const c = new ctx.net.Socket();
      ctx.log.note('client', `unconnected unref()===c ${c.unref() === c} ref()===c ${c.ref() === c}`);
      c.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `connecting unref()===c ${c.unref() === c}`);
      await once(c, 'connect');
      ctx.log.note('client', `connected ref()===c ${c.ref() === c} unref()===c ${c.unref() === c}`);
      const keep = setTimeout(() => {}, 1000);
      await closedP(c);
      clearTimeout(keep);
      ctx.log.note('client', `closed ref()===c ${c.ref() === c} unref()===c ${c.unref() === c}`);
      await stop(server);
    },
  },
  {
    name: "'readable' and read(): all bytes, then null, then end",
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.write('first part,');
        setTimeout(() => s.end('second part'), 10);
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client', ['connect', 'end', 'finish', 'error', 'close']);
      let text = '';
      let lastNull = false;
      c.on('readable', () => {
        let chunk: Buffer | null;
        while ((chunk = c.read()) !== null) text += chunk.toString();
        lastNull = true;
      });
      await once(c, 'end');
      ctx.log.note('client', `text=${JSON.stringify(text)} read() ended with null=${lastNull} read()=${c.read()}`);
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'read(n) with a size: exact chunks from the buffer',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end('0123456789abcdef'); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client', ['connect', 'end', 'close']);
      await once(c, 'readable');
      await ctx.until(() => c.readableLength >= 16 || c.readableEnded);
      const a = c.read(4);
      const b = c.read(5);
      ctx.log.note('client', `read(4)=${JSON.stringify(a?.toString())} read(5)=${JSON.stringify(b?.toString())} readableLength=${c.readableLength}`);
      const rest = c.read();
      ctx.log.note('client', `read()=${JSON.stringify(rest?.toString())}`);
      c.read();
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'async iteration over the socket collects everything and closes it',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.write(Buffer.alloc(50000, 1));
        setTimeout(() => s.end(Buffer.alloc(70000, 2)), 10);
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      const cClosed = closedP(c);
      ctx.log.watch(c, 'client', ['connect', 'end', 'finish', 'error', 'close']);
      let total = 0;
      let sum = 0;
      for await (const chunk of c) {
        total += (chunk as Buffer).length;
        for (const b of chunk as Buffer) sum += b;
      }
      ctx.log.note('client', `iterated total=${total} sum=${sum} destroyed=${c.destroyed}`);
      await cClosed;
      await stop(server);
    },
  },
  {
    name: 'breaking out of async iteration destroys the socket; the peer sees it close',
    async run(ctx) {
      const peer = holder();
      let psClosed: Promise<void> = Promise.resolve();
      const [server, port] = await serve(ctx, (s) => {
        peer.s = s;
        psClosed = closedP(s);
        s.on('error', () => {});
        s.write('chunk');
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      const cClosed = closedP(c);
      ctx.log.watch(c, 'client', ['connect', 'end', 'finish', 'error', 'close']);
      for await (const chunk of c) {
        ctx.log.note('client', `got ${(chunk as Buffer).length} bytes, breaking`);
        break;
      }
      ctx.log.note('client', `after break destroyed=${c.destroyed}`);
      await cClosed;
      await peer.wait();
      await psClosed;
      ctx.log.note('peer', 'closed');
      await stop(server);
    },
  },
  {
    name: 'pipe(): socket into a Writable, and a Readable into the socket',
    async run(ctx) {
      let echoed = 0;
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', (d: Buffer) => { echoed += d.length; s.write(d); });
        s.on('end', () => s.end());
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client', ['connect', 'end', 'finish', 'error', 'close']);
      let received = 0;
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) { received += chunk.length; setImmediate(cb); },
      });
      sink.on('finish', () => ctx.log.note('sink', `finish received=${received}`));
      const r = c.pipe(sink);
      ctx.log.note('client', `pipe() returns the destination ${r === sink}`);
      const src = Readable.from([Buffer.alloc(30000, 7), 'tail', Buffer.alloc(40000, 8)]);
      src.on('end', () => ctx.log.note('source', 'end'));
      src.pipe(c);
      await closedP(c);
      await ctx.until(() => sink.writableFinished);
      ctx.log.note('client', `closed echoed=${echoed} bytesWritten=${c.bytesWritten} bytesRead=${c.bytesRead}`);
      await stop(server);
    },
  },
  {
    name: 'stream.pipeline(source, socket) and pipeline(socket, transform, sink) with callbacks',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        // Echoes upper-cased.
        s.setEncoding('utf8');
        s.on('data', (d: string) => s.write(d.toUpperCase()));
        s.on('end', () => s.end());
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      const cClosed = closedP(c);
      ctx.log.watch(c, 'client', ['connect', 'end', 'finish', 'error', 'close']);
      let out = '';
      const upper = new Transform({
        transform(chunk: Buffer, _e, cb) { cb(null, chunk.toString().split('').reverse().join('')); },
      });
      const sink = new Writable({ write(chunk: Buffer, _e, cb) { out += chunk.toString(); cb(); } });
      const done = new Promise<void>((r) => pipeline(c, upper, sink, (err) => { ctx.log.note('pipeline(c, t, sink)', `cb ${summarize(err)}`); r(); }));
      const sent = new Promise<void>((r) => pipeline(Readable.from(['abc']), c, (err) => { ctx.log.note('pipeline(src, c)', `cb ${summarize(err)}`); r(); }));
      await Promise.all([done, sent]);
      ctx.log.note('client', `out=${JSON.stringify(out)}`);
      await cClosed;
      await stop(server);
    },
  },
  {
    name: 'pipeline(socket, sink) fails with the socket error when the peer resets',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.write('some', () => setTimeout(() => s.resetAndDestroy(), 20));
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      const cClosed = closedP(c);
      ctx.log.watch(c, 'client', ['connect', 'end', 'finish', 'error', 'close']);
      const sink = new PassThrough();
      sink.resume();
      await new Promise<void>((r) => pipeline(c, sink, (err) => { ctx.log.note('pipeline', `cb ${summarize(err)}`); r(); }));
      ctx.log.note('sink', `destroyed=${sink.destroyed}`);
      await cClosed;
      await stop(server);
    },
  },
  {
    name: 'backpressure: write() turns false while the peer does not read, drain after it reads',
    timeout: 8000,
    async run(ctx) {
      const peer = holder();
      let received = 0;
      const [server, port] = await serve(ctx, (s) => {
        peer.s = s;
        s.pause();
        s.on('data', (d: Buffer) => { received += d.length; });
        s.on('end', () => s.end());
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client', ['connect', 'end', 'finish', 'error', 'close']);
      await once(c, 'connect');
      const ps = await peer.wait();
      const chunk = Buffer.alloc(64 * 1024, 3);
      let written = 0;
      let sawFalse = false;
      // Writes until write() says false (the kernel buffers and our buffer are full), at most 64 MB.
      while (written < 64 * 1024 * 1024) {
        written += chunk.length;
        if (!c.write(chunk)) { sawFalse = true; break; }
        await new Promise((r) => setImmediate(r));
      }
      ctx.log.note('client', `write() returned false: ${sawFalse} needDrain=${c.writableNeedDrain} bufferSize>0: ${(c.bufferSize ?? 0) > 0}`);
      const drained = once(c, 'drain');
      ps.resume();
      await drained;
      ctx.log.note('client', `drain bufferSize=${c.bufferSize} bytesWritten equals written: ${c.bytesWritten === written}`);
      c.end();
      await closedP(c);
      ctx.log.note('peer', `received all: ${received === written}`);
      await stop(server);
    },
  },
  {
    name: 'one 8 MiB write to a peer that does not read: false at once, bufferSize counts it all until the peer reads, then callback and one drain',
    timeout: 8000,
    async run(ctx) {
      const peer = holder();
      const hash = { got: 0, sum: 0 };
      const [server, port] = await serve(ctx, (s) => {
        peer.s = s;
        s.pause();
        s.on('data', (d: Buffer) => { for (const b of d) hash.sum = (hash.sum * 31 + b) >>> 0; hash.got += d.length; });
        s.on('end', () => s.end());
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client', ['connect', 'drain', 'end', 'finish', 'error', 'close']);
      await once(c, 'connect');
      const ps = await peer.wait();
      const big = Buffer.alloc(8 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >>> 13)) & 255;
      let want = 0;
      for (const b of big) want = (want * 31 + b) >>> 0;
      const ok = c.write(big, (err) => ctx.log.note('client', `write callback ${summarize(err)} bufferSize=${c.bufferSize}`));
      ctx.log.note('client', `write() -> ${ok} bufferSize=${c.bufferSize} writableLength=${c.writableLength} bytesWritten=${c.bytesWritten}`);
      await new Promise((r) => setTimeout(r, 50));
      ctx.log.note('client', `while the peer does not read: bufferSize>0 ${c.bufferSize > 0} writableLength=${c.writableLength}`);
      const drained = once(c, 'drain');
      ps.resume();
      await drained;
      ctx.log.note('client', `after drain bufferSize=${c.bufferSize} bytesWritten=${c.bytesWritten}`);
      c.end();
      await closedP(c);
      ctx.log.note('peer', `received ${hash.got} bytes, same bytes: ${hash.sum === want}`);
      await stop(server);
    },
  },
  {
    name: 'destroy() while one 32 MiB write waits for a peer that does not read: the write callback, close, and the bytes counted',
    timeout: 8000,
    async run(ctx) {
      const peer = holder();
      const [server, port] = await serve(ctx, (s) => {
        peer.s = s;
        s.pause();
        s.on('error', () => {});
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client', ['connect', 'drain', 'end', 'finish', 'error', 'close']);
      await once(c, 'connect');
      await peer.wait();
      // More than the kernel's buffers and a backend's credit hold: still waiting at destroy().
      c.write(Buffer.alloc(32 * 1024 * 1024, 9), (err) => ctx.log.note('client', `write callback ${summarize(err)}`));
      await new Promise((r) => setTimeout(r, 50));
      c.destroy();
      ctx.log.note('client', `after destroy() bytesWritten=${c.bytesWritten} destroyed=${c.destroyed}`);
      await closedP(c);
      peer.s!.destroy(); // paused, it would never read the EOF
      await stop(server);
    },
  },
  // ------------------------------------------------------------------ onread
  {
    name: 'onread with an empty buffer: the read fails with ENOBUFS, close(true), and the peer gets a reset (its bytes were never read)',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.on('error', (e) => ctx.log.note('peer', `error ${summarize(e)}`));
        s.on('close', () => ctx.log.note('peer', 'close'));
        s.write('hello');
      });
      const c = ctx.net.connect({ port, host: '127.0.0.1', onread: { buffer: Buffer.alloc(0), callback: (n: number) => ctx.log.note('client', `callback ${n}`) } } as never);
      c.on('error', (e) => ctx.log.note('client', `error ${summarize(e)} bytesRead=${c.bytesRead}`));
      await closedP(c);
      ctx.log.note('client', `closed: bytesRead=${c.bytesRead}`);
      await ctx.sleep(50);
      await stop(server);
    },
  },
  {
    name: 'onread whose buffer function gives no Uint8Array: the callback gets the count and true',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end('hello world'); });
      let got = 0;
      const c = ctx.net.connect({ port, host: '127.0.0.1', onread: { buffer: () => 'not a buffer', callback: (n: number, b: unknown) => { got += n; ctx.log.note('client', `callback buffer ${String(b)}`); } } } as never);
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `counted ${got}`);
      await stop(server);
    },
  },
  {
    name: 'onread with a Buffer: callback gets (n, buf) instead of data events',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.write('abcdefghij');
        setTimeout(() => s.end('klmnopqrstuvwxyz'), 10);
      });
      const buf = Buffer.alloc(8);
      let text = '';
      let sameBuffer = true;
      let maxN = 0;
      const c = ctx.net.connect({
        port, host: '127.0.0.1',
        onread: {
          buffer: buf,
          callback(n: number, b: Buffer) {
            if (b !== buf) sameBuffer = false;
            maxN = Math.max(maxN, n);
            text += b.toString('latin1', 0, n);
            // returns undefined: not false, so reading goes on
          },
        } as never,
      });
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `text=${JSON.stringify(text)} sameBuffer=${sameBuffer} maxN<=8: ${maxN <= 8} bytesRead=${c.bytesRead}`);
      await stop(server);
    },
  },
  {
    // Under onread Node reads into the consumer's buffer: bytesRead grows by what each callback
    // gets, never ahead of it, even when much more has arrived.
    name: 'onread with a small buffer and a large write: bytesRead in every callback is what the callbacks got so far',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end(Buffer.alloc(100_000, 7)); });
      let got = 0;
      let calls = 0;
      let ahead = 0;
      const c: Socket = ctx.net.connect({
        port, host: '127.0.0.1',
        onread: {
          buffer: Buffer.alloc(1000),
          callback(n: number) {
            got += n;
            calls++;
            if (c.bytesRead !== got) ahead++;
          },
        } as never,
      });
      ctx.log.watch(c, 'client', ['connect', 'end', 'close']);
      await closedP(c);
      ctx.log.note('client', `got=${got} bytesRead=${c.bytesRead} callbacks with bytesRead ahead of them: ${ahead} at least 100 callbacks: ${calls >= 100}`);
      await stop(server);
    },
  },
  {
    name: 'onread with a buffer function; callback returning false pauses until resume()',
    async run(ctx) {
      const peer = holder();
      const [server, port] = await serve(ctx, (s) => { peer.s = s; s.resume(); s.on('end', () => s.end()); });
      let calls = 0;
      let made = 0;
      let text = '';
      let stopNext = true;
      const c = ctx.net.connect({
        port, host: '127.0.0.1',
        onread: {
          buffer: () => { made++; return Buffer.alloc(1024); },
          callback(n: number, b: Buffer) {
            calls++;
            text += b.toString('latin1', 0, n);
            if (stopNext) { stopNext = false; return false; }
            return true;
          },
        },
      });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      ctx.log.note('client', `buffer function called: ${made > 0}`);
      const ps = await peer.wait();
      ps.write('first');
      await ctx.until(() => calls === 1);
      ctx.log.note('client', `first callback text=${JSON.stringify(text)} isPaused=${c.isPaused()}`);
      ps.write('second');
      await ctx.sleep(30);
      ctx.log.note('client', `while paused text=${JSON.stringify(text)}`);
      c.resume();
      await ctx.until(() => text.length === 'firstsecond'.length);
      ctx.log.note('client', `after resume text=${JSON.stringify(text)}`);
      c.end();
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'cork()/uncork(): writev of buffered chunks, callbacks in order, bytesWritten while connecting counts utf8 bytes',
    async run(ctx) {
      const chunks: Buffer[] = [];
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', (d: Buffer) => chunks.push(d));
        s.on('end', () => { ctx.log.note('peer', `end got=${JSON.stringify(Buffer.concat(chunks).toString('utf8'))}`); s.end(); });
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      c.write('é€', () => ctx.log.note('client', 'w0 cb'));
      ctx.log.note('client', `connecting bytesWritten=${c.bytesWritten} writableLength=${c.writableLength}`);
      await once(c, 'connect');
      c.cork();
      c.write('a', () => ctx.log.note('client', 'w1 cb'));
      c.write(Buffer.from('bb'), () => ctx.log.note('client', 'w2 cb'));
      c.write('ccc', 'latin1', () => ctx.log.note('client', 'w3 cb'));
      ctx.log.note('client', `corked writableCorked=${c.writableCorked} writableLength=${c.writableLength} bytesWritten=${c.bytesWritten}`);
      c.uncork();
      ctx.log.note('client', `uncorked writableCorked=${c.writableCorked} bytesWritten=${c.bytesWritten}`);
      c.end(() => ctx.log.note('client', 'end cb'));
      await closedP(c);
      ctx.log.note('client', `closed bytesWritten=${c.bytesWritten}`);
      await stop(server);
    },
  },
  {
    name: 'a corked writev of more than IOV_MAX (1024) buffers completes in a later iteration of the loop: writableLength, callbacks, drain',
    async run(ctx) {
      let got = 0;
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', (d: Buffer) => { got += d.length; });
        s.on('end', () => { ctx.log.note('peer', `end got=${got}`); s.end(); });
      });
      for (const n of [1000, 1100, 2048, 3000, 5000]) {
        const c = ctx.net.connect(port, '127.0.0.1');
        c.resume();
        await once(c, 'connect');
        let cbs = 0;
        const state = (when: string): void => ctx.log.note('client', `${n} ${when}: writableLength=${c.writableLength} callbacks=${cbs} needDrain=${c.writableNeedDrain}`);
        c.on('drain', () => state('drain'));
        c.cork();
        for (let i = 0; i < n; i++) c.write(Buffer.alloc(100, i & 0xff), () => { cbs++; });
        state('corked');
        await new Promise<void>((done) => {
          process.nextTick(() => {
            c.uncork();
            state('uncorked');
            process.nextTick(() => state('tick'));
            setImmediate(() => {
              state('immediate');
              setImmediate(() => {
                state('immediate 2');
                setTimeout(() => { state('timer'); done(); }, 20);
              });
            });
          });
        });
        c.end();
        await closedP(c);
      }
      await stop(server);
    },
  },
  {
    name: 'a writev of 1025 to 2048 buffers completes before the check phase, ahead of a setImmediate queued before it (made in an I/O callback and in a timer)',
    async run(ctx) {
      let got = 0;
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', (d: Buffer) => { got += d.length; });
        s.on('end', () => { ctx.log.note('peer', `end got=${got}`); s.end(); });
      });
      for (const where of ['connect listener', 'timer']) {
        for (const n of [1025, 2048]) {
          const c = ctx.net.connect(port, '127.0.0.1');
          c.resume();
          const label = `client ${where} ${n}`;
          const state = (when: string): void => ctx.log.note(label, `${when}: writableLength=${c.writableLength}`);
          c.on('drain', () => state('drain'));
          await new Promise<void>((done) => {
            const go = (): void => {
              setImmediate(() => { state('immediate queued before'); setTimeout(done, 20); });
              c.cork();
              for (let i = 0; i < n; i++) c.write(Buffer.alloc(100, i & 0xff), i === n - 1 ? () => state('last callback') : undefined);
              process.nextTick(() => { c.uncork(); state('uncorked'); });
            };
            if (where === 'timer') c.once('connect', () => setTimeout(go, 5));
            else c.once('connect', go);
          });
          c.end();
          await closedP(c);
        }
      }
      await stop(server);
    },
  },
  {
    name: 'a writev of 1025 to 2048 buffers completes after the ticks and promise reactions the writing code chains (libuv\'s pending phase comes after them)',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      for (const where of ['connect listener', 'timer']) {
        const c = ctx.net.connect(port, '127.0.0.1');
        c.resume();
        const label = `client ${where}`;
        const state = (when: string): void => ctx.log.note(label, `${when}: writableLength=${c.writableLength}`);
        c.on('drain', () => state('drain'));
        await new Promise<void>((done) => {
          const go = async (): Promise<void> => {
            setImmediate(() => { state('immediate queued before'); setTimeout(done, 20); });
            c.cork();
            for (let i = 0; i < 1100; i++) c.write(Buffer.alloc(100, i & 0xff), i === 1099 ? () => state('last callback') : undefined);
            c.uncork();
            state('uncorked');
            await null;
            state('after a microtask');
            await new Promise((r) => process.nextTick(r));
            state('after a tick queued from it');
            await new Promise((r) => process.nextTick(r));
            await null;
            state('after another tick and microtask');
          };
          if (where === 'timer') c.once('connect', () => setTimeout(go, 5));
          else c.once('connect', go);
        });
        c.end();
        await closedP(c);
      }
      await stop(server);
    },
  },
  {
    name: 'end() right after a writev of 1025 to 2048 buffers, as the peer ends: the shutdown is made where libuv completes the writev, so \'finish\' comes before the peer\'s end is read (TCP and Unix)',
    async run(ctx) {
      for (const unix of [false, true]) {
        for (const n of [1000, 1100, 2048, 3000]) {
          let ending: Socket | null = null;
          const label = `client ${unix ? 'Unix' : 'TCP'} ${n}`;
          const onConn = (s: Socket): void => {
            ending = s;
            s.resume();
          };
          const [server, where] = unix ? await servePipe(ctx, onConn, { allowHalfOpen: true }) : await serve(ctx, onConn, { allowHalfOpen: true });
          const c = unix ? ctx.net.connect(where as string) : ctx.net.connect(where as number, '127.0.0.1');
          c.resume();
          for (const ev of ['finish', 'end', 'close']) c.on(ev, () => ctx.log.note(label, ev));
          await new Promise<void>((r) => c.once('connect', () => r()));
          await ctx.until(() => ending !== null);
          c.cork();
          for (let i = 0; i < n; i++) c.write(Buffer.alloc(100, 48 + (i % 10)));
          // From a timer, as a program's: the peer's end and this end() in the same callback.
          await new Promise<void>((r) => setTimeout(() => { ending!.end(); c.end(); r(); }, 5));
          await closedP(c);
          await stop(server);
        }
      }
    },
  },
  {
    name: 'a writev of more than 2048 buffers completes from the next iterations\' pending phases: after their timers, before a peer\'s reads in their poll (made in an I/O callback and in a check-phase callback)',
    async run(ctx) {
      let peer: (d: Buffer) => void = () => {};
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', (d: Buffer) => peer(d));
        s.on('end', () => s.end());
      });
      for (const where of ['connect listener', 'immediate']) {
        for (const n of [2100, 3000, 3500, 4500]) {
          const c = ctx.net.connect(port, '127.0.0.1');
          c.resume();
          const label = `client ${where} ${n}`;
          const note = (what: string): void => ctx.log.note(label, `${what}: writableLength=${c.writableLength}`);
          let reads = 0;
          peer = () => { if (reads++ === 0) note('peer\'s first read'); };
          await new Promise<void>((done) => {
            const go = (): void => {
              reads = 0;
              // A check-phase callback of this iteration (queued before the write), three more
              // in the iterations after, and a timer due in the next one.
              setImmediate(() => {
                note('immediate 1');
                setImmediate(() => {
                  note('immediate 2');
                  setImmediate(() => { note('immediate 3'); setImmediate(() => { note('immediate 4'); setTimeout(done, 20); }); });
                });
              });
              setTimeout(() => note('timer'), 0);
              c.cork();
              for (let i = 0; i < n; i++) c.write(Buffer.alloc(25, i & 0xff), i === n - 1 ? () => note('last callback') : undefined);
              process.nextTick(() => c.uncork());
              const t = performance.now();
              while (performance.now() - t < 2); // the timer is due by the next iteration
            };
            if (where === 'immediate') c.once('connect', () => setImmediate(go));
            else c.once('connect', go);
          });
          c.end();
          await closedP(c);
        }
      }
      await stop(server);
    },
  },
  {
    name: "a writev of more than IOV_MAX buffers on a socket destroyed right after it: its callback comes as the handle closes, after a setImmediate queued before, before 'close' (made in an I/O callback and in a timer)",
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('error', () => {}); });
      for (const where of ['connect listener', 'timer']) {
        for (const n of [1100, 2500]) {
          const c = ctx.net.connect(port, '127.0.0.1');
          const label = `client ${where} ${n}`;
          const note = (what: string): void => ctx.log.note(label, `${what}: writableLength=${c.writableLength} destroyed=${c.destroyed}`);
          c.on('error', (e: NodeJS.ErrnoException) => note(`error ${e.code}`));
          const closed = closedP(c);
          c.on('close', () => note('close'));
          await new Promise<void>((done) => {
            const go = (): void => {
              setImmediate(() => note('immediate queued before'));
              c.cork();
              for (let i = 0; i < n; i++) c.write(Buffer.alloc(100, i & 0xff), i === n - 1 ? (e) => note(`last callback ${e ? (e as NodeJS.ErrnoException).code : 'ok'}`) : undefined);
              c.uncork();
              note('uncorked');
              c.destroy();
              process.nextTick(() => note('tick'));
              done();
            };
            if (where === 'timer') c.once('connect', () => setTimeout(go, 5));
            else c.once('connect', go);
          });
          await closed;
        }
      }
      await stop(server);
    },
  },
  {
    name: 'bytesWritten while a writev waits for connect: NaN when all its chunks are buffers (Node 20 adds its entries\' length), counted with a string among them',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      for (const withString of [false, true]) {
        const c = ctx.net.connect(port, '127.0.0.1');
        const label = withString ? 'client mixed' : 'client buffers';
        ctx.log.watch(c, label, ['connect', 'finish', 'close']);
        c.cork();
        c.write(Buffer.from('abc'));
        c.write(withString ? 'é' : Buffer.from('de'));
        c.write(Buffer.from('fgh'));
        ctx.log.note(label, `corked bytesWritten=${c.bytesWritten}`);
        c.uncork();
        ctx.log.note(label, `uncorked bytesWritten=${c.bytesWritten} _pendingData is array=${Array.isArray((c as unknown as { _pendingData: unknown })._pendingData)}`);
        c.once('connect', () => ctx.log.note(label, `in connect bytesWritten=${c.bytesWritten}`));
        await once(c, 'connect');
        await ctx.sleep(5);
        ctx.log.note(label, `connected bytesWritten=${c.bytesWritten}`);
        c.end();
        await closedP(c);
        ctx.log.note(label, `closed bytesWritten=${c.bytesWritten}`);
      }
      await stop(server);
    },
  },
  {
    name: 'a write of nothing is a system call: on a healthy socket it completes, after the peer reset it fails with ECONNRESET (Buffer, string, end(empty))',
    async run(ctx) {
      let peer: Socket | null = null;
      const [server, port] = await serve(ctx, (s) => { peer = s; s.on('error', () => {}); s.resume(); });
      for (const how of ['healthy', 'buffer', 'string', 'end']) {
        const c = ctx.net.connect(port, '127.0.0.1');
        const label = `client ${how}`;
        ctx.log.watch(c, label, ['finish', 'error', 'close']);
        await once(c, 'connect');
        await ctx.until(() => peer !== null);
        const p = peer as unknown as Socket;
        peer = null;
        await ctx.sleep(5);
        const state = (when: string): void => ctx.log.note(label, `${when}: writableLength=${c.writableLength} errored=${c.errored !== null} destroyed=${c.destroyed} writableEnded=${c.writableEnded}`);
        const cb = (e?: Error | null): void => ctx.log.note(label, `cb ${summarize(e)}`);
        if (how !== 'healthy') p.resetAndDestroy(); // the reset is in the kernel before the write
        const ret = how === 'string' ? c.write('', cb) : how === 'end' ? c.end(Buffer.alloc(0), cb) === c : c.write(Buffer.alloc(0), cb);
        ctx.log.note(label, `returned ${ret}`);
        state('sync');
        process.nextTick(() => state('tick'));
        await ctx.sleep(20);
        if (how === 'healthy') {
          state('later');
          c.end();
        }
        if (!c.closed) await closedP(c);
      }
      await stop(server);
    },
  },
  {
    name: 'writing to a peer that closed: the first system call is taken, a later one (IOV_MAX buffers on, or the rest of a long write) fails the write with EPIPE',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end(); s.destroy(); });
      // [buffers, bytes each]: one system call (1024), two (1025, 1100, 2048), more (3000), and
      // single buffers whose rest the kernel does not take in the first call
      for (const [n, size] of [[1024, 100], [1025, 100], [1100, 100], [2048, 100], [3000, 100], [2, 300_000], [1, 16_000_000]]) {
        const c = ctx.net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
        const label = `client ${n}x${size}`;
        ctx.log.watch(c, label, ['end', 'finish', 'drain', 'error', 'close']);
        await once(c, 'end');
        await ctx.sleep(10); // the peer's socket is gone: what this one sends is answered by a reset
        let cbs = 0;
        let failed = 0;
        const state = (when: string): void => ctx.log.note(label, `${when}: writableLength=${c.writableLength} callbacks=${cbs} failed=${failed} destroyed=${c.destroyed}`);
        c.cork();
        for (let i = 0; i < n; i++) {
          c.write(Buffer.alloc(size, i & 0xff), (e?: Error | null) => {
            cbs++;
            if (e && failed++ === 0) ctx.log.note(label, `first failed cb ${i} ${summarize(e)}`);
            if (i === n - 1) ctx.log.note(label, `last cb ${summarize(e)}`);
          });
        }
        await new Promise<void>((done) => {
          process.nextTick(() => {
            c.uncork();
            state('uncorked');
            process.nextTick(() => state('tick'));
            setImmediate(() => { state('immediate'); setTimeout(() => { state('timer'); done(); }, 20); });
          });
        });
        if (!c.closed) {
          c.destroy();
          await closedP(c);
        }
      }
      await stop(server);
    },
  },
  {
    name: 'a writev of more than IOV_MAX buffers whose first system call fails (a Unix peer that is gone: EPIPE) fails in write() itself, as a short one does',
    async run(ctx) {
      const [server, path] = await servePipe(ctx, (s) => { s.destroy(); });
      for (const n of [10, 1100, 3000]) {
        for (const when of ['before connect', 'after the peer left']) {
          const c = ctx.net.connect(path);
          const label = `client ${n} ${when}`;
          ctx.log.watch(c, label, ['connect', 'ready', 'finish', 'drain', 'error', 'close']);
          const state = (at: string): void => ctx.log.note(label, `${at}: writableLength=${c.writableLength} destroyed=${c.destroyed}`);
          c.on('connect', () => state('connect'));
          c.on('ready', () => state('ready'));
          if (when === 'after the peer left') {
            await once(c, 'connect');
            await ctx.sleep(10);
          }
          let cbs = 0;
          c.cork();
          for (let i = 0; i < n; i++) c.write(Buffer.alloc(100, i & 0xff), (e?: Error | null) => { if (cbs++ === 0) ctx.log.note(label, `first cb ${summarize(e)}`); });
          await new Promise<void>((done) => {
            process.nextTick(() => {
              c.uncork();
              state('uncorked');
              setImmediate(() => { state('immediate'); setTimeout(() => { state('timer'); done(); }, 20); });
            });
          });
          if (!c.closed) {
            c.destroy();
            await closedP(c);
          }
        }
      }
      await stop(server);
    },
  },
  {
    name: 'destroy(err) right after connect(): \'close\' comes from the close phase, after the setImmediate callbacks queued before it (the handle made at connect closes; the last closed first)',
    async run(ctx) {
      const [server, port] = await serve(ctx, () => {});
      // From a timer (the check phase comes before the close phase) and from a setImmediate
      // callback (the close phase of this iteration comes before the immediates queued now).
      for (const from of ['timer', 'immediate'] as const) {
        await new Promise<void>((done) => {
          const go = (): void => {
            for (const host of ['127.0.0.1', 'localhost']) {
              const label = `${from} ${host}`;
              const c = ctx.net.connect(port, host);
              c.on('error', (e: Error) => ctx.log.note('events', `${label} error ${e.message}`));
              c.on('close', (hadError: boolean) => ctx.log.note('events', `${label} close ${hadError}`));
              c.destroy(new Error('boom'));
              setImmediate(() => {
                ctx.log.note('events', `${label} immediate`);
                setImmediate(() => { ctx.log.note('events', `${label} next immediate`); if (host === 'localhost') setTimeout(done, 5); });
              });
              process.nextTick(() => ctx.log.note('events', `${label} tick`));
            }
          };
          if (from === 'timer') setTimeout(go, 1);
          else setImmediate(go);
        });
      }
      await stop(server);
    },
  },
  {
    name: 'end() twice and end() after close: callbacks and errors',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      c.end((e?: Error | null) => ctx.log.note('client', `end#1 cb ${summarize(e)}`));
      c.end((e?: Error | null) => ctx.log.note('client', `end#2 cb ${summarize(e)}`));
      ctx.log.note('client', `after two end() writableEnded=${c.writableEnded} writableFinished=${c.writableFinished}`);
      await closedP(c);
      c.end((e?: Error | null) => ctx.log.note('client', `end#3 cb ${summarize(e)}`));
      await ctx.sleep(10);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'Unix socket: setNoDelay/setKeepAlive/setTimeout work and return the socket; bytes counted',
    async run(ctx) {
      const [server, path] = await servePipe(ctx, (s) => { s.setEncoding('utf8'); s.on('data', (d: string) => s.write(d.toUpperCase())); s.on('end', () => s.end()); });
      const c = ctx.net.connect({ path, noDelay: true, keepAlive: true });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      ctx.log.note('client', `setNoDelay()===c ${c.setNoDelay() === c} setKeepAlive(true, 1000)===c ${c.setKeepAlive(true, 1000) === c}`);
      c.setTimeout(30);
      await once(c, 'timeout');
      c.setTimeout(0);
      c.setEncoding('utf8');
      let got = '';
      c.on('data', (d: string) => { got += d; });
      c.end('shout');
      await closedP(c);
      ctx.log.note('client', `got=${JSON.stringify(got)} ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'destroy() while connecting with a write and end() queued: close(false), then both callbacks get ERR_SOCKET_CLOSED_BEFORE_CONNECTION',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('error', () => {}); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      c.write('queued while connecting', (e?: Error | null) => ctx.log.note('client', `write cb ${summarize(e)}`));
      c.end((e?: Error | null) => ctx.log.note('client', `end cb ${summarize(e)}`));
      c.destroy();
      ctx.log.note('client', `destroyed while connecting with writes queued ${props(c)}`);
      await closedP(c);
      await ctx.sleep(20);
      await stop(server);
    },
  },
  {
    name: 'setTimeout while a write waits for a peer that does not read: the first expiry is put off (the write\'s queue moved since it was made), the second is \'timeout\'',
    async run(ctx) {
      const held: Socket[] = [];
      const [server, port] = await serve(ctx, (s) => { held.push(s); s.pause(); s.on('error', () => {}); });
      const c = ctx.net.connect(port, '127.0.0.1');
      c.on('error', () => {});
      await once(c, 'connect');
      // More than the kernel's buffers take: part goes at once, the rest waits.
      c.write(Buffer.alloc(32 << 20), (e) => ctx.log.note('client', `write cb ${summarize(e)}`));
      c.setTimeout(300, () => ctx.log.note('client', 'timeout'));
      // Node's first look (at 300 ms) sees the queue moved since the write was made: no event;
      // the second (at 600 ms) sees it still: 'timeout'. The marks fall between and after.
      await ctx.sleep(450);
      ctx.log.note('client', 'at 450 ms');
      await ctx.sleep(450);
      ctx.log.note('client', 'at 900 ms');
      c.destroy();
      for (const s of held) s.destroy();
      await closedP(c);
      await stop(server);
    },
  },
];
