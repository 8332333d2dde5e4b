// Differential scenarios for the ways to connect a net.Socket: net.connect / net.createConnection /
// new Socket().connect in their argument forms, over TCP and Unix sockets, and the connect options
// (timeout, host names and lookup, family, hints, autoSelectFamily, localAddress/localPort, signal).
// The far side is always `peer` (node:net).
import type { Socket } from 'node:net';
import dns from 'node:dns';
import type { Scenario, Context } from './harness.js';
import { summarize } from './harness.js';
import { closedP } from './scenarios-socket.js';
import { props, thrown, freePort, freePorts, once, serve, servePipe, stop, trackConnections } from './util.js';

/** A lookup function that records how it is called and answers with `answer`. */
function recordingLookup(ctx: Context, answer: (opts: any) => [Error | null, ...unknown[]]): any {
  return (hostname: string, opts: any, cb: (...a: any[]) => void) => {
    ctx.log.note('lookup()', `called hostname=${hostname} opts=${JSON.stringify(opts)} keys=${Object.keys(opts).sort().join(',')}`);
    const a = answer(opts);
    process.nextTick(() => cb(...a));
  };
}

export const connectScenarios: Scenario[] = [
  {
    name: 'connect(port, host, cb): callback before the connect event, ready after',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end('hi'); });
      const c = ctx.net.connect(port, '127.0.0.1', () => ctx.log.note('client', `cb ${props(c)}`));
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `sync ${props(c)}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'connect(options, cb) with port and host, and the peer sees our address',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        ctx.log.note('peer', `connection remote=${s.remoteAddress}/${s.remotePort}/${s.remoteFamily}`);
        s.resume();
        s.on('end', () => s.end());
      });
      const c = ctx.net.connect({ port, host: '127.0.0.1' }, function (this: unknown) {
        ctx.log.note('client', `cb this===socket ${this === c} arguments=${arguments.length}`);
        c.end('x');
      });
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'connect(path, cb) over a Unix socket: events and properties',
    async run(ctx) {
      const [server, path] = await servePipe(ctx, (s) => {
        ctx.log.note('peer', `connection remote=${s.remoteAddress} address()=${JSON.stringify(s.address())}`);
        s.end('hello');
      });
      const c = ctx.net.connect(path, () => ctx.log.note('client', `cb ${props(c)}`));
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `sync ${props(c)}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'connect({ path }) to a Unix path with no socket: ENOENT',
    async run(ctx) {
      const c = ctx.net.connect({ path: ctx.path('missing') });
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `sync connecting=${c.connecting} readyState=${c.readyState}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
    },
  },
  {
    name: 'connect() to an abstract Unix name nobody listens on: ECONNREFUSED naming it (Linux)',
    async run(ctx) {
      if (process.platform !== 'linux') { ctx.log.note('client', 'not Linux'); return; }
      const name = `\0wasinet-nobody-${process.pid}`;
      const c = ctx.net.connect(name);
      ctx.log.watch(c, 'client');
      c.on('error', (e: NodeJS.ErrnoException & { address?: string }) =>
        ctx.log.note('client', `address is the name: ${e.address === name}; message names it: ${e.message === `connect ECONNREFUSED ${name}`}`));
      await closedP(c);
    },
  },
  {
    name: 'new Socket() then connect(port, host): properties at every stage',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end('bye')); });
      const c = new ctx.net.Socket();
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `new ${props(c)}`);
      const r = c.connect(port, '127.0.0.1');
      ctx.log.note('client', `connect() returns socket ${r === c}; ${props(c)}`);
      await once(c, 'connect');
      ctx.log.note('client', `connected ${props(c)}`);
      c.write('abc');
      c.end();
      ctx.log.note('client', `after end ${props(c)}`);
      await once(c, 'end');
      ctx.log.note('client', `on end ${props(c)}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'createConnection(port) with no host: localhost lookup, attempt, connect',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end(); s.resume(); });
      const c = ctx.net.createConnection(port);
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `closed autoSelectFamilyAttemptedAddresses=${JSON.stringify((c as unknown as { autoSelectFamilyAttemptedAddresses?: string[] }).autoSelectFamilyAttemptedAddresses ?? null)}`);
      await stop(server);
    },
  },
  {
    name: 'connect to host localhost with autoSelectFamily false',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end('z'); });
      const c = ctx.net.connect({ port, host: 'localhost', autoSelectFamily: false });
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `sync ${props(c)}`);
      await closedP(c);
      ctx.log.note('client', `closed remote=${c.remoteAddress} attempted=${JSON.stringify((c as unknown as { autoSelectFamilyAttemptedAddresses?: string[] }).autoSelectFamilyAttemptedAddresses ?? null)}`);
      await stop(server);
    },
  },
  {
    name: 'connect to localhost with family 4 and with family IPv4',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end(); s.resume(); });
      for (const family of [4, 'IPv4'] as const) {
        const c = ctx.net.connect({ port, host: 'localhost', family: family as number });
        ctx.log.watch(c, `client(${family})`);
        await closedP(c);
        ctx.log.note(`client(${family})`, `closed remoteFamily=${c.remoteFamily}`);
      }
      await stop(server);
    },
  },
  {
    name: 'custom lookup: options it receives by default, with hints, with family 6 and with autoSelectFamily false',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end(); s.resume(); });
      const cases: [string, object][] = [
        ['default', {}],
        ['hints', { hints: dns.ADDRCONFIG | dns.V4MAPPED }],
        ['family6', { family: 6 }],
        ['noauto', { autoSelectFamily: false }],
      ];
      for (const [label, extra] of cases) {
        const lookup = recordingLookup(ctx, (opts) => (opts.all
          ? [null, [{ address: '127.0.0.1', family: 4 }]]
          : [null, '127.0.0.1', 4]));
        const c = ctx.net.connect({ port, host: 'example.invalid', lookup, ...extra });
        ctx.log.watch(c, label);
        await closedP(c);
      }
      await stop(server);
    },
  },
  {
    name: 'custom lookup returning one address with all:false (autoSelectFamily false)',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end('ok'); });
      const lookup = recordingLookup(ctx, () => [null, '127.0.0.1', 4]);
      const c = ctx.net.connect({ port, host: 'my.host', lookup, autoSelectFamily: false });
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `closed remote=${c.remoteAddress}/${c.remoteFamily}`);
      await stop(server);
    },
  },
  {
    name: 'custom lookup returning an error: lookup event, error, close',
    async run(ctx) {
      const port = await freePort(ctx);
      const lookup = recordingLookup(ctx, () => {
        const e = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.test'), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname: 'nowhere.test' });
        return [e];
      });
      for (const autoSelectFamily of [true, false]) {
        const c = ctx.net.connect({ port, host: 'nowhere.test', lookup, autoSelectFamily });
        ctx.log.watch(c, `client(auto=${autoSelectFamily})`);
        await closedP(c);
        ctx.log.note(`client(auto=${autoSelectFamily})`, `closed ${props(c)}`);
      }
    },
  },
  {
    name: 'custom lookup returning an invalid IP: ERR_INVALID_IP_ADDRESS',
    async run(ctx) {
      const port = await freePort(ctx);
      for (const autoSelectFamily of [false, true]) {
        const lookup = recordingLookup(ctx, (opts) => (opts.all
          ? [null, [{ address: 'not-an-ip', family: 4 }]]
          : [null, 'not-an-ip', 4]));
        const c = ctx.net.connect({ port, host: 'bad.ip', lookup, autoSelectFamily });
        ctx.log.watch(c, `client(auto=${autoSelectFamily})`);
        await closedP(c);
        ctx.log.note(`client(auto=${autoSelectFamily})`, `closed destroyed=${c.destroyed} connecting=${c.connecting}`);
      }
    },
  },
  {
    name: 'custom lookup returning a bad address family: ERR_INVALID_ADDRESS_FAMILY',
    async run(ctx) {
      const port = await freePort(ctx);
      for (const autoSelectFamily of [false, true]) {
        const lookup = recordingLookup(ctx, (opts) => (opts.all
          ? [null, [{ address: '127.0.0.1', family: 5 }]]
          : [null, '127.0.0.1', 5]));
        const c = ctx.net.connect({ port, host: 'bad.family', lookup, autoSelectFamily });
        ctx.log.watch(c, `client(auto=${autoSelectFamily})`);
        await closedP(c);
        ctx.log.note(`client(auto=${autoSelectFamily})`, `closed destroyed=${c.destroyed}`);
      }
    },
  },
  {
    name: 'autoSelectFamily: ::1 refused, then 127.0.0.1 connects',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end('v4'); });
      const lookup = recordingLookup(ctx, () => [null, [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }]]);
      const c = ctx.net.connect({ port, host: 'dual.test', lookup });
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `closed remote=${c.remoteAddress}/${c.remoteFamily} attempted=${JSON.stringify((c as unknown as { autoSelectFamilyAttemptedAddresses?: string[] }).autoSelectFamilyAttemptedAddresses)}`);
      await stop(server);
    },
  },
  {
    name: 'autoSelectFamily: every address refused gives an AggregateError',
    async run(ctx) {
      const port = await freePort(ctx);
      const lookup = recordingLookup(ctx, () => [null, [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]]);
      const c = ctx.net.connect({ port, host: 'refused.test', lookup });
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)} attempted=${JSON.stringify((c as unknown as { autoSelectFamilyAttemptedAddresses?: string[] }).autoSelectFamilyAttemptedAddresses)}`);
    },
  },
  {
    name: 'connect to ::1: IPv6 addresses and families',
    async run(ctx) {
      const server = trackConnections(ctx.peer.createServer((s) => {
        ctx.log.note('peer', `connection remote=${s.remoteAddress}/${s.remoteFamily}`);
        s.end('six');
      }));
      await new Promise<void>((r) => server.listen(0, '::1', () => r()));
      const port = (server.address() as { port: number }).port;
      const c = ctx.net.connect({ port, host: '::1' });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      ctx.log.note('client', `connected ${props(c)}`);
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'localAddress 127.0.0.1 with a chosen localPort',
    async run(ctx) {
      const local = await freePort(ctx);
      const [server, port] = await serve(ctx, (s) => {
        ctx.log.note('peer', `connection remotePort is the chosen one: ${s.remotePort === local}`);
        s.end();
        s.resume();
      });
      const c = ctx.net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1', localPort: local });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      ctx.log.note('client', `connected localAddress=${c.localAddress} localPort is the chosen one: ${c.localPort === local}`);
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'localAddress with a host name: lookup asks for one address',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end(); s.resume(); });
      const lookup = recordingLookup(ctx, (opts) => (opts.all ? [null, [{ address: '127.0.0.1', family: 4 }]] : [null, '127.0.0.1', 4]));
      const c = ctx.net.connect({ port, host: 'named.test', localAddress: '127.0.0.1', lookup });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      ctx.log.note('client', `connected localAddress=${c.localAddress}`);
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'connect timeout option: idle timeout fires and the socket stays open',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const c = ctx.net.connect({ port, host: '127.0.0.1', timeout: 40 });
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `sync timeout=${c.timeout}`);
      await once(c, 'timeout');
      ctx.log.note('client', `after timeout ${props(c)} timeout=${c.timeout}`);
      c.setTimeout(0);
      ctx.log.note('client', `setTimeout(0) timeout=${c.timeout}`);
      await ctx.sleep(120);
      c.end();
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'signal already aborted: AbortError and close, then connect() undestroys the socket',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      // Node's stream constructor destroys the socket at once for an aborted signal; connect()
      // then revives the destroyed socket (_undestroy) and it connects after its 'close'.
      const c = ctx.net.connect({ port, host: '127.0.0.1', signal: AbortSignal.abort() });
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `sync destroyed=${c.destroyed} connecting=${c.connecting}`);
      await closedP(c);
      ctx.log.note('client', `after close destroyed=${c.destroyed} connecting=${c.connecting} readyState=${c.readyState}`);
      const connected = await Promise.race([once(c, 'connect').then(() => true), ctx.sleep(1000).then(() => false)]);
      ctx.log.note('client', connected ? `connected after all ${props(c)}` : 'no connect within 1 s');
      if (!c.destroyed) {
        const cClosed = closedP(c);
        c.destroy();
        await cClosed;
      }
      const reason = new Error('my reason');
      const d = ctx.net.connect({ port, host: '127.0.0.1', signal: AbortSignal.abort(reason) });
      ctx.log.watch(d, 'client2', ['error', 'close']);
      d.once('error', (e: Error) => ctx.log.note('client2', `error cause=${summarize((e as { cause?: unknown }).cause)}`));
      await closedP(d);
      d.destroy();
      await once(d, 'close');
      await stop(server);
    },
  },
  {
    name: 'signal aborted while connected: AbortError, close(true), the peer sees the close',
    async run(ctx) {
      let peerSock: Socket | null = null;
      const [server, port] = await serve(ctx, (s) => {
        peerSock = s;
        s.resume();
        s.on('error', () => {});
        s.on('end', () => ctx.log.note('peer', 'end'));
      });
      const ac = new AbortController();
      const c = ctx.net.connect({ port, host: '127.0.0.1', signal: ac.signal });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      await ctx.until(() => peerSock !== null);
      ac.abort();
      ctx.log.note('client', `after abort() destroyed=${c.destroyed}`);
      await closedP(c);
      await closedP(peerSock!);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'signal aborted while connecting (before the lookup answers)',
    async run(ctx) {
      const port = await freePort(ctx);
      const ac = new AbortController();
      const lookup: any = (_h: string, _o: unknown, cb: (...a: any[]) => void) => {
        ctx.log.note('lookup()', 'called');
        setTimeout(() => cb(null, [{ address: '127.0.0.1', family: 4 }]), 30);
      };
      const c = ctx.net.connect({ port, host: 'slow.test', lookup, signal: ac.signal });
      ctx.log.watch(c, 'client');
      await ctx.sleep(5);
      ac.abort();
      await closedP(c);
      await ctx.sleep(60);
      ctx.log.note('client', `closed ${props(c)}`);
    },
  },
  {
    name: 'connect argument errors are thrown synchronously',
    async run(ctx) {
      const net = ctx.net;
      // Each case creates its socket with `make` and then calls `act` on it; the socket is kept
      // so that it can be destroyed afterwards whatever connect() left behind.
      const sock = (o?: object) => () => new net.Socket(o as never);
      const cases: [string, () => Socket | null, (s: Socket | null) => unknown][] = [
        ['net.connect()', () => null, () => net.connect(undefined as never)],
        ['connect()', sock(), (s) => s!.connect(undefined as never)],
        ['connect({})', sock(), (s) => s!.connect({} as never)],
        ['port -1', sock(), (s) => s!.connect({ port: -1 })],
        ['port 65536', sock(), (s) => s!.connect(65536)],
        ['port "abc"', sock(), (s) => s!.connect({ port: 'abc' as never })],
        ['port ""', sock(), (s) => s!.connect({ port: '' as never })],
        ['port true', sock(), (s) => s!.connect({ port: true as never })],
        ['port {}', sock(), (s) => s!.connect({ port: {} as never })],
        ['port 1.5', sock(), (s) => s!.connect({ port: 1.5 })],
        ['host 1', sock(), (s) => s!.connect({ port: 1, host: 1 as never })],
        ['path 1', sock(), (s) => s!.connect({ path: 1 as never })],
        ['localAddress "abc"', sock(), (s) => s!.connect({ port: 1, host: '127.0.0.1', localAddress: 'abc' })],
        ['localPort "x"', sock(), (s) => s!.connect({ port: 1, host: '127.0.0.1', localPort: 'x' as never })],
        ['lookup 1', sock(), (s) => s!.connect({ port: 1, host: 'a.test', lookup: 1 as never })],
        ['family 5 (host name)', sock(), (s) => s!.connect({ port: 1, host: 'a.test', family: 5 as never, lookup: () => {} })],
        ['autoSelectFamily "yes"', sock(), (s) => s!.connect({ port: 1, host: 'a.test', autoSelectFamily: 'yes' as never, lookup: () => {} })],
        ['autoSelectFamilyAttemptTimeout 0', sock(), (s) => s!.connect({ port: 1, host: 'a.test', autoSelectFamilyAttemptTimeout: 0, lookup: () => {} })],
        ['net.connect signal "x"', () => null, () => net.connect({ port: 1, host: '127.0.0.1', signal: 'x' as never })],
        ['net.connect timeout -1', () => null, () => net.connect({ port: 1, host: '127.0.0.1', timeout: -1 })],
        ['new Socket({ objectMode })', () => null, () => new net.Socket({ objectMode: true } as never)],
        ['new Socket({ keepAliveInitialDelay: "x" })', () => null, () => new net.Socket({ keepAliveInitialDelay: 'x' } as never)],
      ];
      for (const [label, make, act] of cases) {
        const s = make();
        let made: Socket | null = null;
        ctx.log.note(label, thrown(() => { made = act(s) as Socket; return made; }));
        const left = (made as Socket | null) ?? s;
        if (left) {
          // A case that did not throw logs how it ends; every socket is destroyed and closed.
          if (made) ctx.log.watch(left, label, ['error', 'close']);
          const closed = closedP(left);
          left.destroy();
          await closed;
        }
      }
    },
  },
  {
    name: 'connect() again on a closed socket reuses it',
    async run(ctx) {
      let n = 0;
      const [server, port] = await serve(ctx, (s) => { n++; s.end(`conn${n}`); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `closed once ${props(c)}`);
      c.connect(port, '127.0.0.1', () => ctx.log.note('client', `reconnected cb ${props(c)}`));
      ctx.log.note('client', `connect() again connecting=${c.connecting} destroyed=${c.destroyed} readyState=${c.readyState}`);
      await closedP(c);
      ctx.log.note('client', `closed twice ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'destroy() while connecting: close(false), no connect, no error',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('error', () => {}); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      c.destroy();
      ctx.log.note('client', `after destroy() ${props(c)}`);
      await closedP(c);
      await ctx.sleep(30);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'end() and write() while connecting: data and FIN go after connect',
    async run(ctx) {
      let got = '';
      const [server, port] = await serve(ctx, (s) => {
        s.setEncoding('utf8');
        s.on('data', (d) => { got += d; });
        s.on('end', () => { ctx.log.note('peer', `end got=${JSON.stringify(got)}`); s.end(); });
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `write -> ${c.write('one', () => ctx.log.note('client', 'write cb'))} ${props(c)}`);
      c.end('two', () => ctx.log.note('client', 'end cb'));
      ctx.log.note('client', `after end() ${props(c)} writableEnded=${c.writableEnded}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    // The held write goes out from its own 'connect' listener: the listeners added before it
    // still see its bytes pending, and bytesWritten counts them there.
    name: 'a write held while connecting: bytesWritten counts it in the connect listeners before and after its own',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      for (const [form, write] of [
        ['string', (c: Socket) => c.write('early')],
        ['Buffer 70000', (c: Socket) => c.write(Buffer.alloc(70000, 1))],
        ['corked writev', (c: Socket) => { c.cork(); c.write('a'); c.write(Buffer.from('bc')); c.uncork(); }],
      ] as [string, (c: Socket) => void][]) {
        const c = ctx.net.connect(port, '127.0.0.1');
        c.on('connect', () => ctx.log.note('client', `${form}: connect listener before: bytesWritten=${c.bytesWritten} writableLength=${c.writableLength}`));
        write(c);
        c.on('connect', () => ctx.log.note('client', `${form}: connect listener after: bytesWritten=${c.bytesWritten}`));
        c.end();
        await closedP(c);
        ctx.log.note('client', `${form}: closed bytesWritten=${c.bytesWritten}`);
      }
      await stop(server);
    },
  },
  {
    // Node's afterConnect sets connecting false before it emits the failure of a lone attempt;
    // with several addresses (autoSelectFamily) the socket is still connecting then.
    name: 'a refused connect to one address (an IP, a host name, a Unix path): connectionAttemptFailed sees the socket no longer connecting',
    async run(ctx) {
      const port = await freePort(ctx);
      const path = ctx.path();
      for (const [label, opts] of [
        ['ip', { port, host: '127.0.0.1' }],
        ['name, one address', { port, host: 'localhost', family: 4 }],
      ] as [string, { port: number; host: string }][]) {
        const c = ctx.net.connect(opts);
        const st = () => `connecting=${c.connecting} pending=${c.pending} readyState=${c.readyState} destroyed=${c.destroyed}`;
        c.on('connectionAttemptFailed', (_a: string, _p: number, _f: number, e: Error) => ctx.log.note('client', `${label}: attempt failed ${summarize(e)} ${st()}`));
        c.on('error', (e) => ctx.log.note('client', `${label}: error ${summarize(e)} ${st()}`));
        await closedP(c);
      }
      const u = ctx.net.connect(path);
      u.on('connectionAttemptFailed', () => ctx.log.note('client', `path: attempt failed connecting=${u.connecting}`));
      u.on('error', (e) => ctx.log.note('client', `path: error ${summarize(e)} connecting=${u.connecting}`));
      await closedP(u);
    },
  },
  {
    name: 'writes while connecting beyond highWaterMark: write() false, bufferSize, one drain',
    async run(ctx) {
      let total = 0;
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', (d: Buffer) => { total += d.length; });
        s.on('end', () => s.end());
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client', ['connect', 'drain', 'finish', 'end', 'error', 'close']);
      const r1 = c.write('a'.repeat(10000));
      ctx.log.note('client', `write 10000 -> ${r1} bufferSize=${c.bufferSize} writableLength=${c.writableLength} bytesWritten=${c.bytesWritten}`);
      const r2 = c.write(Buffer.alloc(10000, 98));
      ctx.log.note('client', `write 10000 more -> ${r2} bufferSize=${c.bufferSize} writableLength=${c.writableLength} bytesWritten=${c.bytesWritten} needDrain=${c.writableNeedDrain}`);
      await once(c, 'drain');
      ctx.log.note('client', `after drain bufferSize=${c.bufferSize} bytesWritten=${c.bytesWritten}`);
      c.end();
      await closedP(c);
      ctx.log.note('peer', `received ${total}`);
      await stop(server);
    },
  },
  {
    name: 'port given as a string: connect("PORT", host), connect({ port: "PORT" }), empty host means localhost',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end('s'); });
      const forms: [string, () => Socket][] = [
        ['connect(str, host)', () => ctx.net.connect(String(port) as never, '127.0.0.1')],
        ['connect({ port: str })', () => ctx.net.connect({ port: String(port) as never, host: '127.0.0.1' })],
        ['connect({ host: "" })', () => ctx.net.connect({ port, host: '' })],
        ['connect({ port: " P " })', () => ctx.net.connect({ port: ` ${port} ` as never, host: '127.0.0.1' })],
      ];
      for (const [label, make] of forms) {
        const c = make();
        ctx.log.watch(c, label);
        await closedP(c);
        ctx.log.note(label, `closed remotePort matches: ${c.remotePort === port}`);
      }
      await stop(server);
    },
  },
  {
    name: 'ECONNREFUSED with localAddress and localPort: the error names the local end',
    async run(ctx) {
      const [port, local] = await freePorts(ctx, 2);
      const c = ctx.net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1', localPort: local });
      ctx.log.watch(c, 'client');
      c.on('error', (e: Error & { localAddress?: string; localPort?: number }) => {
        ctx.log.note('client', `error localAddress=${e.localAddress} localPort matches: ${e.localPort === local}`);
      });
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      // The same with only localAddress.
      const d = ctx.net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
      ctx.log.watch(d, 'client2');
      await closedP(d);
    },
  },
  {
    name: 'ECONNREFUSED on localhost (one address): a plain error, not an AggregateError',
    async run(ctx) {
      const port = await freePort(ctx);
      const c = ctx.net.connect(port, 'localhost');
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `closed attempted=${JSON.stringify((c as unknown as { autoSelectFamilyAttemptedAddresses?: string[] }).autoSelectFamilyAttemptedAddresses ?? null)}`);
    },
  },
  {
    name: 'localPort already listened on: bind EADDRINUSE',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const [other, otherPort] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const c = ctx.net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1', localPort: otherPort });
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
      await stop(other);
    },
  },
  {
    name: 'setTimeout before connect: timeout fires while the lookup is slow, connect follows',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end('late'); });
      const lookup: any = (_h: string, _o: unknown, cb: (...a: any[]) => void) => {
        setTimeout(() => cb(null, [{ address: '127.0.0.1', family: 4 }]), 80);
      };
      const c = new ctx.net.Socket();
      ctx.log.watch(c, 'client');
      c.setTimeout(20);
      ctx.log.note('client', `timeout=${c.timeout}`);
      c.connect({ port, host: 'slow.test', lookup });
      await once(c, 'timeout');
      ctx.log.note('client', `timeout while connecting=${c.connecting} pending=${c.pending}`);
      c.setTimeout(0);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'highWaterMark options: writableHighWaterMark 4 makes write() false early',
    async run(ctx) {
      let got = 0;
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', (d: Buffer) => { got += d.length; });
        s.on('end', () => s.end());
      });
      const c = new ctx.net.Socket({ writableHighWaterMark: 4, readableHighWaterMark: 2 } as never);
      ctx.log.note('client', `writableHighWaterMark=${c.writableHighWaterMark} readableHighWaterMark=${c.readableHighWaterMark}`);
      c.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `write 3 -> ${c.write('abc')} write 1 -> ${c.write('d')} write 1 -> ${c.write('e')}`);
      await once(c, 'drain');
      c.end();
      await closedP(c);
      ctx.log.note('peer', `got ${got}`);
      await stop(server);
    },
  },
  {
    name: 'new Socket({ allowHalfOpen: true }) then connect(path): Unix half-close, write after the peer ended',
    async run(ctx) {
      let got = '';
      const [server, path] = await servePipe(ctx, (s) => {
        s.setEncoding('utf8');
        s.on('data', (d: string) => { got += d; });
        s.on('end', () => ctx.log.note('peer', `end got=${JSON.stringify(got)}`));
        s.end('peer done');
      }, { allowHalfOpen: true });
      const c = new ctx.net.Socket({ allowHalfOpen: true });
      ctx.log.watch(c, 'client');
      c.connect(path);
      await once(c, 'end');
      ctx.log.note('client', `after end readyState=${c.readyState} write -> ${c.write('reply')}`);
      c.end('!');
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'pause() before connect: data and end wait for resume()',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.end('queued data'); s.resume(); });
      const c = ctx.net.connect(port, '127.0.0.1');
      c.pause();
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      await ctx.sleep(30);
      ctx.log.note('client', `paused readableLength=${c.readableLength} readableEnded=${c.readableEnded} isPaused=${c.isPaused()}`);
      c.resume();
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'address() and localAddress/localPort/localFamily while connecting: {} before the connect call, the bound name after it, kept from the first ask until connect',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const [pipeServer, path] = await servePipe(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const show = (c: Socket): string => {
        const a = c.address() as { address?: string; family?: string; port?: number };
        return `address=${JSON.stringify({ ...a, port: a.port === undefined ? undefined : a.port > 0 })} localAddress=${c.localAddress} ` +
          `localPort>0=${(c.localPort ?? 0) > 0} localFamily=${c.localFamily} connecting=${c.connecting}`;
      };
      const targets: [string, () => Socket][] = [
        ['127.0.0.1', () => ctx.net.connect(port, '127.0.0.1')],
        ['::1', () => ctx.net.connect(port, '::1')],
        ['pipe', () => ctx.net.connect(path)],
      ];
      // Node makes the connect call to an address in a tick of its own: asked synchronously, the
      // socket has no name yet, and keeps {} until 'connect'; asked two ticks later, it has one.
      // (One tick later, the public-API backend's node:net socket has not made its call yet.)
      for (const [what, connect] of targets) {
        // ::1: the peer listens on 127.0.0.1 only, so the attempt is refused
        for (const first of ['sync', 'second tick', 'immediate']) {
          const c = connect();
          const label = `client ${what} ${first}`;
          c.on('error', (e) => ctx.log.note(label, `error ${(e as NodeJS.ErrnoException).code} ${show(c)}`));
          c.resume();
          if (first === 'sync') ctx.log.note(label, `sync ${show(c)}`);
          else if (first === 'second tick') process.nextTick(() => process.nextTick(() => ctx.log.note(label, `second tick ${show(c)}`)));
          else setImmediate(() => ctx.log.note(label, `immediate ${show(c)}`));
          setImmediate(() => setImmediate(() => ctx.log.note(label, `later ${show(c)}`)));
          c.on('connect', () => { ctx.log.note(label, `connect ${show(c)}`); c.end(); });
          await closedP(c);
          ctx.log.note(label, `closed ${show(c)}`);
        }
      }
      await stop(server);
      await stop(pipeServer);
    },
  },
  {
    name: 'setTimeout() on a Socket never connected: still pending, no handle; destroy() closes at once, with no argument; a write fails and closes it',
    async run(ctx) {
      const a = new ctx.net.Socket();
      a.setTimeout(1000);
      ctx.log.watch(a, 'a');
      ctx.log.note('a', `after setTimeout pending=${a.pending} handle=${(a as unknown as { _handle: unknown })._handle} readyState=${a.readyState}`);
      a.destroy();
      await closedP(a);
      const b = new ctx.net.Socket();
      b.setTimeout(1000);
      ctx.log.watch(b, 'b');
      b.write('x', (e) => ctx.log.note('b', `write cb ${summarize(e)}`));
      await closedP(b);
      ctx.log.note('b', `closed ${props(b)}`);
    },
  },
  {
    name: 'end() before connect() on a Socket with a timeout: finish waits for the connection',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.resume(); s.on('end', () => s.end()); });
      const c = new ctx.net.Socket();
      c.setTimeout(1000);
      c.on('finish', () => ctx.log.note('client', `finish connecting=${c.connecting}`));
      c.on('close', (h) => ctx.log.note('client', `close ${h}`));
      c.end();
      await ctx.sleep(20);
      ctx.log.note('client', `20 ms after end() writableFinished=${c.writableFinished} pending=${c.pending}`);
      c.connect(port, '127.0.0.1');
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'end() before connect(): connect() forgets it (writable again), the FIN still goes at connect, finish only after a later end()',
    async run(ctx) {
      for (const [allowHalfOpen, writeLate] of [[false, false], [true, false], [false, true]]) {
        const who = `client(allowHalfOpen=${allowHalfOpen}${writeLate ? ', write after connect' : ''})`;
        const [server, port] = await serve(ctx, (s) => {
          s.on('data', (d) => ctx.log.note('peer', `got ${d}`));
          s.on('end', () => { ctx.log.note('peer', 'end'); setTimeout(() => s.end(), 30); });
        }, { allowHalfOpen: true });
        const c = new ctx.net.Socket({ allowHalfOpen });
        for (const e of ['connect', 'prefinish', 'finish', 'end']) c.on(e, () => ctx.log.note(who, `${e} writableEnded=${c.writableEnded} writable=${c.writable}`));
        c.on('error', (e) => ctx.log.note(who, `error ${summarize(e)}`));
        c.on('close', (h) => ctx.log.note(who, `close ${h}`));
        c.end(() => ctx.log.note(who, 'end callback'));
        await ctx.sleep(20);
        c.connect(port, '127.0.0.1');
        ctx.log.note(who, `after connect(): writableEnded=${c.writableEnded} writable=${c.writable}`);
        await once(c, 'connect');
        // After the FIN the kernel refuses a write (EPIPE), as on node:net.
        if (writeLate) c.write('late', (e) => ctx.log.note(who, `write after connect ${summarize(e)}`));
        if (allowHalfOpen) {
          await once(c, 'end');
          await ctx.sleep(20);
          ctx.log.note(who, `after the peer's end: writableFinished=${c.writableFinished}`);
          c.end();
        }
        await closedP(c);
        await stop(server);
      }
    },
  },
  {
    name: 'connect() again while the first connect to an address is in flight: connectionAttempt, then EALREADY, close(true)',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.on('error', () => {}); });
      const c = new ctx.net.Socket();
      for (const e of ['connect', 'ready', 'connectionAttempt', 'connectionAttemptFailed']) c.on(e, (...a: unknown[]) => ctx.log.note('client', `${e} ${a.map(String).join(' ')}`));
      c.on('error', (e: NodeJS.ErrnoException & { address?: string }) => ctx.log.note('client', `error ${e.constructor.name} ${e.code} ${e.errno} ${e.syscall} ${e.address} ` +
        // (The local name in the message is the transport's answer while connecting, which a
        // loaded machine can leave out here: not compared.)
        `message names the target ${/^connect EALREADY 127\.0\.0\.1:\d+( |$)/.test(e.message)}`));
      c.on('close', (h) => ctx.log.note('client', `close ${h}`));
      c.connect(port, '127.0.0.1', () => ctx.log.note('client', 'first callback'));
      c.connect(port, '127.0.0.1', () => ctx.log.note('client', 'second callback'));
      ctx.log.note('client', `after both: connecting=${c.connecting} readyState=${c.readyState}`);
      await closedP(c);
      ctx.log.note('client', `closed ${props(c)}`);
      await stop(server);
    },
  },
  {
    name: 'connect() again to a host name while the first connect to it is in flight: two lookups, two attempts, EALREADY, close(true)',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.on('error', () => {}); });
      for (const family of [4, 0]) {
        const who = `client(family ${family})`;
        // A lookup of the program's own, answering on the next turn (one address, either form).
        let lookups = 0;
        const lookup = (name: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void): void => {
          const n = ++lookups;
          ctx.log.note(who, `lookup ${n} of ${name} all=${opts.all === true}`);
          setImmediate(() => opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4));
        };
        const c = new ctx.net.Socket();
        for (const e of ['connect', 'ready', 'lookup', 'connectionAttempt', 'connectionAttemptFailed']) {
          c.on(e, (...a: unknown[]) => ctx.log.note(who, `${e} ${a.map((x) => x === port ? 'PORT' : String(x)).join(' ')} connecting=${c.connecting}`));
        }
        c.on('error', (e: NodeJS.ErrnoException & { address?: string; port?: number }) => ctx.log.note(who, `error ${e.constructor.name} ${e.code} ${e.errno} ${e.syscall} ${e.address} ${e.port === port} ` +
          `message names the target ${/^connect EALREADY 127\.0\.0\.1:\d+( |$)/.test(e.message)}`));
        c.on('close', (h) => ctx.log.note(who, `close ${h}`));
        c.connect({ host: 'wasinet.test', port, family, lookup: lookup as never }, () => ctx.log.note(who, 'first callback'));
        c.connect({ host: 'wasinet.test', port, family, lookup: lookup as never }, () => ctx.log.note(who, 'second callback'));
        ctx.log.note(who, `after both: connecting=${c.connecting} _host=${(c as unknown as { _host: string })._host}`);
        await closedP(c);
        ctx.log.note(who, `closed ${props(c)}`);
      }
      await stop(server);
    },
  },
  {
    name: 'connect() to an address while the first connect() looks a name up: the address is tried; the lookup answering while it connects fails it (EALREADY), answering after it is ignored',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => { s.on('error', () => {}); s.end(); });
      for (const [family, late] of [[4, false], [0, false], [4, true], [0, true]] as const) {
        const who = `client(family ${family}, lookup ${late ? 'after the connection' : 'while it connects'})`;
        // The lookup answers from a microtask — after the tick in which the address's connect(2)
        // is made, long before its completion — or well after the connection.
        const lookup = (name: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void): void => {
          ctx.log.note(who, `lookup of ${name} all=${opts.all === true}`);
          const answer = (): void => { if (opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]); else cb(null, '127.0.0.1', 4); };
          if (late) setTimeout(answer, 100); else queueMicrotask(answer);
        };
        const c = new ctx.net.Socket();
        for (const e of ['connect', 'ready', 'lookup', 'connectionAttempt', 'connectionAttemptFailed', 'end']) {
          c.on(e, (...a: unknown[]) => ctx.log.note(who, `${e} ${a.map((x) => x === port ? 'PORT' : String(x)).join(' ')} connecting=${c.connecting}`));
        }
        c.on('error', (e: NodeJS.ErrnoException & { address?: string; port?: number }) => ctx.log.note(who, `error ${e.constructor.name} ${e.code} ${e.syscall} ${e.address} ${e.port === port} ` +
          `message names the target ${/^connect EALREADY 127\.0\.0\.1:\d+( |$)/.test(e.message)}`));
        c.on('close', (h) => ctx.log.note(who, `close ${h}`));
        c.resume();
        c.connect({ host: 'wasinet.test', port, family, lookup: lookup as never });
        c.connect({ host: '127.0.0.1', port });
        await closedP(c);
        await ctx.sleep(late ? 150 : 20);
        ctx.log.note(who, `closed ${props(c)}`);
      }
      await stop(server);
    },
  },
  {
    name: 'connect() again on a connected socket: a second connect and its callback, the same connection goes on',
    async run(ctx) {
      const [server, port] = await serve(ctx, (s) => {
        s.on('data', (d) => ctx.log.note('peer', `got ${d}`));
        s.on('end', () => s.end());
      });
      const c = ctx.net.connect(port, '127.0.0.1');
      c.on('connect', () => ctx.log.note('client', `connect ${props(c)}`));
      c.on('close', (h) => ctx.log.note('client', `close ${h}`));
      await once(c, 'connect');
      c.write('one');
      await ctx.until(() => c.bytesWritten === 3);
      await ctx.sleep(20);
      const r = c.connect(port, '127.0.0.1', () => ctx.log.note('client', 'second connect callback'));
      ctx.log.note('client', `connect() returned the socket ${r === c}: ${props(c)}`);
      await once(c, 'ready');
      c.write('two', (e) => ctx.log.note('client', `write two ${summarize(e)}`));
      c.end();
      await closedP(c);
      await stop(server);
    },
  },
  {
    name: 'a lookup that answers an empty list (autoSelectFamily): the TypeError Node throws',
    async run(ctx) {
      const port = await freePort(ctx);
      ctx.log.note('client', thrown(() => ctx.net.connect({ port, host: 'empty.test', autoSelectFamily: true, lookup: (_h: string, _o: unknown, cb: (...a: unknown[]) => void) => cb(null, []) } as never)));
    },
  },
  {
    name: 'Socket and Server: their length, as Node\'s functions have',
    async run(ctx) {
      ctx.log.note('api', `Socket.length=${ctx.net.Socket.length} Server.length=${ctx.net.Server.length}`);
    },
  },
];
