// Client scenarios for a runtime that can only connect (workerd): the client runs in the runtime
// under test, its far side is a node:net server in the test process. Each scenario is a pair —
// `serve` (the server, on node:net, logging as 'server') and `client` (on the library under
// test, logging as 'client') — and tests/host/workerd.test.ts runs the pair twice: with node:net
// as the client in the test process (the reference), and with wasinet inside workerd. Both the
// client's and the server's log must come out the same.
//
// What two runs may legitimately do differently stays out of the logs: port numbers are
// normalised (harness.ts), chunk sizes are not logged where a read's size depends on timing, and
// errors the server sees while the client goes away (EPIPE or ECONNRESET) are not logged.
//
// `only` scenarios have no node:net counterpart (what workerd cannot do): their client log is
// compared with the documented outcome instead.
import type { Socket, Server } from 'node:net';
import { Log, normalize, type NetLike } from '../host/diff/harness.js';

export interface ServerSide {
  port: number;
  /** Resolves once the server and every connection it accepted are closed. */
  done(): Promise<void>;
}

export interface ClientScenario {
  name: string;
  /** Starts the far side on node:net (port 0 on 127.0.0.1). */
  serve(peer: NetLike, log: Log): Promise<ServerSide>;
  /** The client; resolves once it is closed. */
  client(net: NetLike, port: number, log: Log): Promise<void>;
  /** The client log when there is no node:net run to compare with (what workerd cannot do). */
  only?: string[];
  /** Wall-clock limit of one run, ms (default 10 s). */
  timeout?: number;
}

export const SIZE = 4 << 20;

/** `n` bytes of a pattern that differs with `seed` (so a byte from the wrong stream shows). */
export function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 11) + seed) & 0xff;
  return b;
}

/** Checks bytes as they arrive against pattern(·, seed): one line for the log at the end. */
class Checker {
  #n = 0;
  #bad = -1;
  constructor(private readonly seed: number) {}
  add(d: Uint8Array): void {
    for (let i = 0; i < d.length; i++) {
      const j = this.#n + i;
      if (this.#bad < 0 && d[i] !== ((j * 31 + (j >> 11) + this.seed) & 0xff)) this.#bad = j;
    }
    this.#n += d.length;
  }
  toString(): string {
    return `${this.#n} bytes, ${this.#bad < 0 ? 'every byte as sent' : `first difference at byte ${this.#bad}`}`;
  }
}

const EVENTS = ['connect', 'ready', 'data', 'end', 'finish', 'timeout', 'error', 'close'];
const NO_DATA = EVENTS.filter((e) => e !== 'data');

/** What a client says of itself once connected (the local end is left out: workerd does not know it). */
function remote(s: Socket): string {
  return `remote=${s.remoteAddress}/${s.remotePort}/${s.remoteFamily} readyState=${s.readyState} pending=${s.pending}`;
}

/** A node:net server on 127.0.0.1 whose connections run `onConn`, each watched as 'server'. */
async function serve(peer: NetLike, log: Log, onConn: (s: Socket) => void, opts: object = {}, events = EVENTS): Promise<ServerSide> {
  const closed: Promise<void>[] = [];
  const server: Server = peer.createServer(opts, (s) => {
    log.watch(s, 'server', events);
    closed.push(new Promise((r) => s.once('close', () => r())));
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    done: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all(closed);
    },
  };
}

function closed(s: Socket): Promise<void> {
  return new Promise((r) => s.once('close', () => r()));
}

export const clientScenarios: ClientScenario[] = [
  {
    name: 'connect and exchange bytes both ways: the server echoes in upper case, we end, it ends',
    serve: (peer, log) => serve(peer, log, (s) => {
      s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase()));
      s.on('end', () => s.end());
    }),
    async client(net, port, log) {
      const c = net.connect({ port, host: '127.0.0.1' });
      log.watch(c, 'client');
      log.note('client', `before connect: ${remote(c)}`);
      c.on('connect', () => {
        log.note('client', `connected: ${remote(c)}`);
        // No socket options in workerd: ignored, and the calls still return the socket.
        log.note('client', `setNoDelay, setKeepAlive, ref, unref return the socket: ${c.setNoDelay(true) === c && c.setKeepAlive(true, 1000) === c && c.unref() === c && c.ref() === c}`);
        log.note('client', `write() -> ${c.write('hello, ')}`);
        log.note('client', `write() -> ${c.write('world')}`);
      });
      let got = '';
      c.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.length === 12) { log.note('client', `got ${JSON.stringify(got)}`); c.end(); }
      });
      await closed(c);
      log.note('client', `after close: readyState=${c.readyState} destroyed=${c.destroyed} bytesRead=${c.bytesRead} bytesWritten=${c.bytesWritten}`);
    },
  },
  {
    name: `${SIZE >> 20} MiB each way at once, every byte checked; half-closed both ways`,
    serve: (peer, log) => serve(peer, log, (s) => {
      const check = new Checker(1);
      s.on('data', (d: Buffer) => check.add(d));
      s.on('end', () => { log.note('server', `received ${check}`); s.end(); });
      s.write(pattern(SIZE, 2));
    }, { allowHalfOpen: true }, NO_DATA),
    async client(net, port, log) {
      const c = net.connect({ port, host: '127.0.0.1' });
      log.watch(c, 'client', NO_DATA);
      const check = new Checker(2);
      c.on('data', (d: Buffer) => check.add(d));
      c.on('connect', () => c.end(pattern(SIZE, 1)));
      c.on('end', () => log.note('client', `received ${check}`));
      await closed(c);
      log.note('client', `bytesRead=${c.bytesRead} bytesWritten=${c.bytesWritten}`);
    },
    timeout: 20_000,
  },
  {
    name: 'pause(): a paused client stops reading, so the server\'s 32 MiB back up; resume() takes every byte',
    serve: (peer, log) => serve(peer, log, (s) => {
      s.end(pattern(32 << 20, 4));
      // The client stays paused for 600 ms: after 300 its reads must have stopped, holding most
      // of the 32 MiB here (what the kernels' buffers take is far less).
      setTimeout(() => log.note('server', `held back while the client is paused: ${s.writableLength > 16 << 20}`), 300);
    }, {}, NO_DATA),
    async client(net, port, log) {
      const c = net.connect({ port, host: '127.0.0.1' });
      log.watch(c, 'client', NO_DATA);
      const check = new Checker(4);
      c.on('data', (d: Buffer) => check.add(d));
      c.pause();
      c.on('connect', () => setTimeout(() => {
        log.note('client', `paused: isPaused=${c.isPaused()} readableFlowing=${c.readableFlowing}`);
        c.resume();
      }, 600));
      c.on('end', () => log.note('client', `received ${check}`));
      await closed(c);
    },
    timeout: 20_000,
  },
  {
    name: 'half-close, we end first: the server (allowHalfOpen) keeps writing, then ends',
    serve: (peer, log) => serve(peer, log, (s) => {
      s.on('end', () => {
        log.note('server', `after our peer's FIN: readyState=${s.readyState}`);
        s.write('after your end', () => s.end('. bye'));
      });
    }, { allowHalfOpen: true }),
    async client(net, port, log) {
      const c = net.connect({ port, host: '127.0.0.1' });
      log.watch(c, 'client');
      c.on('connect', () => { c.end('hi'); log.note('client', `after end(): readyState=${c.readyState} writable=${c.writable}`); });
      c.on('end', () => log.note('client', `at end: readyState=${c.readyState}`));
      await closed(c);
    },
  },
  {
    name: 'half-close, the server ends first: we (allowHalfOpen) keep writing, then end',
    serve: (peer, log) => serve(peer, log, (s) => {
      s.end('your turn');
    }, { allowHalfOpen: true }),
    async client(net, port, log) {
      const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      log.watch(c, 'client');
      c.on('end', () => {
        log.note('client', `at end: readyState=${c.readyState} writable=${c.writable}`);
        log.note('client', `write() -> ${c.write('still here')}`);
        c.end(' and done');
      });
      await closed(c);
    },
  },
  {
    name: 'the server ends first, without allowHalfOpen: end, our automatic end, finish, close',
    serve: (peer, log) => serve(peer, log, (s) => { s.end('bye'); }),
    async client(net, port, log) {
      const c = net.connect({ port, host: '127.0.0.1' });
      log.watch(c, 'client');
      await closed(c);
      log.note('client', `readyState=${c.readyState} destroyed=${c.destroyed}`);
    },
  },
  {
    name: 'connect refused: ECONNREFUSED with errno, syscall, address and port, then close(true)',
    async serve(peer) {
      // A port nothing listens on: bound, then closed.
      const probe = peer.createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
      const port = (probe.address() as { port: number }).port;
      await new Promise((r) => probe.close(r));
      return { port, done: async () => {} };
    },
    async client(net, port, log) {
      const c = net.connect({ port, host: '127.0.0.1' });
      log.watch(c, 'client');
      await closed(c);
      log.note('client', `destroyed=${c.destroyed} readyState=${c.readyState}`);
    },
  },
  {
    name: 'setTimeout: an idle connection emits timeout (once) and stays open; destroy() closes it',
    serve: (peer, log) => serve(peer, log, () => {}),
    async client(net, port, log) {
      const c = net.connect({ port, host: '127.0.0.1' });
      log.watch(c, 'client');
      c.setTimeout(150);
      let n = 0;
      c.on('timeout', () => {
        n++;
        log.note('client', `timeout ${n}: destroyed=${c.destroyed} readyState=${c.readyState}`);
        if (n === 2) c.destroy();
        else c.write('x'); // activity: the idle timer starts again
      });
      await closed(c);
    },
  },
  {
    name: 'destroy() mid-stream: the first data destroys the socket; close(false); the server sees it go',
    // The server's own error (EPIPE or ECONNRESET, by timing) is not logged: only that it closes.
    serve: (peer, log) => serve(peer, log, (s) => {
      s.on('error', () => {});
      let left = 16 << 20;
      const more = () => {
        while (left > 0) {
          left -= 65536;
          if (!s.write(pattern(65536, 3))) { s.once('drain', more); return; }
        }
        s.end();
      };
      more();
    }, {}, ['close']),
    async client(net, port, log) {
      const c = net.connect({ port, host: '127.0.0.1' });
      log.watch(c, 'client', NO_DATA.filter((e) => e !== 'close'));
      c.once('data', () => {
        c.destroy();
        log.note('client', `destroyed: ${c.destroyed} readyState=${c.readyState}`);
        log.note('client', `write after destroy -> ${c.write('x', (err) => log.note('client', `write callback: ${err?.message}`))}`);
      });
      c.on('close', (hadError: boolean) => log.note('client', `close ${hadError}`));
      await closed(c);
    },
  },
  {
    name: 'listen() fails: no server sockets (error listen ENOTSUP, then close)',
    serve: async () => ({ port: 0, done: async () => {} }),
    async client(net, _port, log) {
      const server = net.createServer(() => log.note('server', 'connection?!'));
      log.watch(server, 'listener', ['listening', 'error', 'close']);
      server.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('error', r));
      log.note('listener', `listening=${server.listening} address()=${JSON.stringify(server.address())}`);
      await new Promise((r) => server.close(r));
    },
    only: [
      // Node's shape for a refused listen (no port field for port 0, as in Node).
      'listener error Error code=ENOTSUP errno=-95 syscall=listen address=127.0.0.1 "listen ENOTSUP: operation not supported on socket 127.0.0.1"',
      'listener listening=false address()=null',
      'listener close',
    ],
  },
  {
    name: 'connect() to a Unix socket path: error connect ENOTSUP naming the path, then close(true)',
    serve: async () => ({ port: 0, done: async () => {} }),
    async client(net, _port, log) {
      const c = net.connect('/tmp/wasinet-no-unix-sockets-here.sock');
      log.watch(c, 'client', [...EVENTS, 'connectionAttemptFailed']);
      await closed(c);
    },
    only: [
      // Node's shape for a failed Unix connect (connectionAttemptFailed included, as Node emits it).
      'client connectionAttemptFailed "/tmp/wasinet-no-unix-sockets-here.sock" undefined undefined Error code=ENOTSUP errno=-95 syscall=connect address=/tmp/wasinet-no-unix-sockets-here.sock "connect ENOTSUP /tmp/wasinet-no-unix-sockets-here.sock"',
      'client error Error code=ENOTSUP errno=-95 syscall=connect address=/tmp/wasinet-no-unix-sockets-here.sock "connect ENOTSUP /tmp/wasinet-no-unix-sockets-here.sock"',
      'client close true',
    ],
  },
  {
    name: 'new Socket({ fd }): no file descriptors (error ENOTSUP, then close)',
    serve: async () => ({ port: 0, done: async () => {} }),
    async client(net, _port, log) {
      const c = new net.Socket({ fd: 99 });
      log.watch(c, 'client');
      await closed(c);
    },
    // As on Deno and Bun, which have no fds either.
    only: ['client error Error code=ENOTSUP errno=-95 syscall=connect "connect ENOTSUP"', 'client close true'],
  },
];

/** Runs `s.client` on `net` against a server at `port`; the normalised log (or an error text). */
export async function runClient(s: ClientScenario, net: NetLike, port: number): Promise<string[] | { error: string }> {
  const log = new Log();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      s.client(net, port, log),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${s.timeout ?? 10_000} ms; log so far:\n${log.entries.join('\n')}`)), s.timeout ?? 10_000);
      }),
    ]);
  } catch (err) {
    return { error: String((err as Error)?.stack ?? err).slice(0, 2000) };
  } finally {
    clearTimeout(timer);
  }
  return normalize(log.entries, [port]);
}
