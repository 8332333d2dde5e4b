// The `wasinet_guest` import module: what a guest can ask of its stack (docs/guest.md,
// "Imports"). Each function checks its pointers and handles first — a wrong one is a fault that
// ends the guest — and then does what a Node program would do with the same Socket or Server.
// Node's own exceptions (a bad port, an address Node rejects) become a negative errno, so a
// guest never sees a JS exception.
import type { Socket, Server } from 'node:net';
import { ERRNO } from '../core/abi.js';
import { GuestFault } from './wasi.js';
import { kWriteRoom } from '../net/socket.js';
import type { GuestRuntime } from './runtime.js';

/** socket_open / server_listen flags (docs/guest.md). */
export const ALLOW_HALF_OPEN = 1, PAUSE_ON_CONNECT = 2;

type Fn = (...a: any[]) => number | void;

export function guestImports(rt: GuestRuntime): Record<string, Fn> {
  const { mem, net } = rt;
  const sock = (fn: string, h: number) => rt.entry(fn, h, 'socket').obj as Socket;
  /** Runs a Node call; its exception (bad argument) becomes -EINVAL, a guest fault passes through. */
  const attempt = (f: () => void): number => {
    try {
      f();
      return 0;
    } catch (err) {
      if (err instanceof GuestFault) throw err;
      return -ERRNO.EINVAL;
    }
  };
  const listen = (options: object, flags: number): number => {
    const server = net.createServer({ allowHalfOpen: (flags & ALLOW_HALF_OPEN) !== 0, pauseOnConnect: (flags & PAUSE_ON_CONNECT) !== 0 });
    const rc = attempt(() => server.listen(options));
    if (rc < 0) return rc;
    return rt.add({ kind: 'server', obj: server as Server });
  };
  const address = (fn: string, h: number, which: number, ptr: number, cap: number): number => {
    const e = rt.entry(fn, h);
    let text = '';
    if (e.kind === 'server') {
      const a = e.obj.address();
      text = a === null ? '' : typeof a === 'string' ? a : format(a.address, a.port);
    } else {
      const s = e.obj;
      const ipc = s.remoteAddress === undefined && s.localAddress === undefined;
      if (!ipc) text = which === 1 ? format(s.remoteAddress, s.remotePort) : format(s.localAddress, s.localPort);
    }
    if (text === '') return -ERRNO.ENOTCONN;
    const bytes = Buffer.from(text);
    if (bytes.length <= cap >>> 0) mem.bytes(fn, ptr, bytes.length).set(bytes);
    return bytes.length;
  };
  return {
    socket_open: (flags: number) => rt.add({ kind: 'socket', obj: new net.Socket({ allowHalfOpen: (flags & ALLOW_HALF_OPEN) !== 0 }) as Socket }),
    socket_connect: (h: number, ptr: number, len: number, port: number) => {
      const s = sock('socket_connect', h);
      const host = mem.string('socket_connect', ptr, len);
      if (rt.connectCalled.has(s)) return -ERRNO.EISCONN;
      rt.connectCalled.add(s);
      return attempt(() => s.connect({ host, port }));
    },
    socket_connect_ipc: (h: number, ptr: number, len: number) => {
      const s = sock('socket_connect_ipc', h);
      const path = mem.string('socket_connect_ipc', ptr, len);
      if (rt.connectCalled.has(s)) return -ERRNO.EISCONN;
      rt.connectCalled.add(s);
      return attempt(() => s.connect({ path }));
    },
    server_listen: (ptr: number, len: number, port: number, flags: number) =>
      listen({ host: mem.string('server_listen', ptr, len), port }, flags),
    server_listen_ipc: (ptr: number, len: number, flags: number) =>
      listen({ path: mem.string('server_listen_ipc', ptr, len) }, flags),
    server_close: (h: number) => { (rt.entry('server_close', h, 'server').obj as Server).close(() => {}); },
    socket_write: (h: number, ptr: number, len: number) => {
      const s = sock('socket_write', h);
      const bytes = mem.bytes('socket_write', ptr, len);
      if (s.destroyed || s.writableEnded) return -ERRNO.EPIPE;
      // Bytes taken: what the connection takes at once (the core's writeRoom: its transport's
      // credit when nothing is queued) plus what the Writable holds below its high-water mark,
      // each piece copied once and written in one write(): one piece in the common case (offered
      // in high-water-mark pieces, a 64 KiB guest write was a copy per piece and two WRITEs). A
      // short count means a write() returned false, or one before it did, so 'drain'
      // (wasinet_on_drain) follows, as in Node; while write() returns true (the core took the
      // piece at once, into this turn's batch too) the next piece is offered.
      let taken = 0;
      for (let r = writeRoom(s); r > 0 && taken < bytes.length; r = writeRoom(s)) {
        const n = Math.min(bytes.length - taken, r);
        const more = s.write(Buffer.from(bytes.subarray(taken, taken + n)));
        taken += n;
        if (!more) break;
      }
      rt.usage.bytesOut += taken;
      return taken;
    },
    socket_end: (h: number) => { sock('socket_end', h).end(); },
    socket_destroy: (h: number) => { sock('socket_destroy', h).destroy(); },
    socket_pause: (h: number) => { sock('socket_pause', h).pause(); },
    socket_resume: (h: number) => { sock('socket_resume', h).resume(); },
    socket_set_timeout: (h: number, ms: number) => {
      const s = sock('socket_set_timeout', h);
      return attempt(() => s.setTimeout(ms));
    },
    socket_set_no_delay: (h: number, on: number) => { sock('socket_set_no_delay', h).setNoDelay(on !== 0); },
    address: (h: number, which: number, ptr: number, cap: number) => address('address', h, which, ptr, cap),
    timer_set: (ms: number) => {
      if (!(ms >= 0)) return -ERRNO.EINVAL;
      const id = rt.nextTimerId++;
      rt.timers.set(id, net.setTimeout(() => rt.run(() => {
        if (!rt.timers.delete(id)) return;
        rt.call('wasinet_on_timer', id);
      }), ms));
      return id;
    },
    timer_clear: (id: number) => {
      const t = rt.timers.get(id);
      if (t === undefined) return;
      rt.timers.delete(id);
      net.clearTimeout(t);
    },
    now: () => net.now(),
    log: (ptr: number, len: number) => {
      const text = mem.bytes('log', ptr, len);
      const line = new Uint8Array(text.length + 1);
      line.set(text);
      line[text.length] = 10;
      rt.output(1, line);
    },
    exit: (code: number) => { throw new GuestFault('exit', `called exit(${code})`, code >>> 0); },
  };
}

/** What socket_write offers `s` in one write(): the core's writeRoom plus the Writable's room below its high-water mark. */
function writeRoom(s: Socket): number {
  return s.writableHighWaterMark - s.writableLength + (s as unknown as { [kWriteRoom](): number })[kWriteRoom]();
}

function format(host: string | undefined, port: number | undefined): string {
  if (host === undefined) return '';
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
