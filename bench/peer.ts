// The bench's peer: always node:net, in its own process (pinned to the other CPU by
// bench/run.ts), fresh for every measurement. Argument: a directory for its Unix sockets.
//
// Servers, on TCP (127.0.0.1, port 0) and on a Unix socket each:
//   sink   — reads everything; at EOF answers with the byte count (decimal) and ends.
//   source — reads a 16-byte header (u32 chunk, u32 time cap ms, f64 total bytes; see
//            sourceHeader), writes `total` bytes in `chunk`-byte writes (stopping early once the
//            cap has passed), then ends.
//   echo   — writes back whatever it reads (setNoDelay).
//   plain  — accepts and reads; ends when the client ends (allowHalfOpen false), else stays open.
// First stdout line: { "ready": PeerEndpoints }. Then commands on stdin, one JSON line each
// (PeerCommand: run node:net clients against the worker's server), answered on stdout
// ({ "reply": PeerReply }). Exits when stdin ends.
import net from 'node:net';
import path from 'node:path';
import { pump } from './plugin-cell.js';
import { cycles, onLines, openMany, sendLine, now, noop, type Endpoint, type PeerCommand, type PeerEndpoints, type Transport } from './common.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: peer.js <dir for Unix sockets>');

function listen(transport: Transport, name: string, handler: (s: net.Socket) => void): Promise<Endpoint> {
  const server = net.createServer({ noDelay: true } as net.ServerOpts, (s) => {
    s.on('error', noop);
    handler(s);
  });
  server.maxConnections = Infinity;
  const where = transport === 'tcp' ? { host: '127.0.0.1', port: 0, backlog: 4096 } : { path: path.join(dir, `peer-${process.pid}-${name}.sock`), backlog: 4096 };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      const a = server.address();
      resolve(typeof a === 'string' ? { path: a } : { host: '127.0.0.1', port: a!.port });
    });
  });
}

function sink(s: net.Socket): void {
  let n = 0;
  s.on('data', (d: Buffer) => { n += d.length; });
  s.on('end', () => s.end(String(n)));
}

function source(s: net.Socket): void {
  s.once('readable', function read() {
    const head = s.read(16) as Buffer | null;
    if (!head) { s.once('readable', read); return; }
    const chunk = Buffer.alloc(head.readUInt32LE(0), 7);
    const deadline = now() + head.readUInt32LE(4);
    let left = head.readDoubleLE(8);
    s.resume();
    let i = 0;
    const pump = (): void => {
      while (left > 0) {
        if ((++i & 63) === 0 && now() > deadline) break;
        const b = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= b.length;
        if (!s.write(b)) { s.once('drain', pump); return; }
      }
      s.end();
    };
    pump();
  });
}

function echo(s: net.Socket): void {
  s.setNoDelay(true);
  s.pipe(s);
}

function plain(s: net.Socket): void {
  s.resume();
}

const endpoints = {} as PeerEndpoints;
for (const t of ['tcp', 'unix'] as const) {
  endpoints[t] = {
    sink: await listen(t, 'sink', sink),
    source: await listen(t, 'source', source),
    echo: await listen(t, 'echo', echo),
    plain: await listen(t, 'plain', plain),
  };
}

let held: net.Socket[] = [];

async function run(c: PeerCommand): Promise<{ n: number; ms: number }> {
  switch (c.cmd) {
    case 'cycle':
      return cycles(net, c.to, c.count, c.parallel, c.capMs);
    case 'hold': {
      const t0 = now();
      const opened = await openMany(net, c.to, c.count, c.window);
      held.push(...opened);
      return { n: opened.length, ms: now() - t0 };
    }
    case 'pump':
      return pump(net, c);
    case 'release': {
      const n = held.length;
      for (const s of held) s.destroy();
      held = [];
      return { n, ms: 0 };
    }
  }
}

onLines(process.stdin, (c: PeerCommand) => {
  run(c).then(
    ({ n, ms }) => sendLine(process.stdout, { reply: { id: c.id, n, ms } }),
    (e: Error) => sendLine(process.stdout, { reply: { id: c.id, n: 0, ms: 0, error: String(e?.stack ?? e) } }),
  );
});
process.stdin.on('end', () => process.exit(0));
sendLine(process.stdout, { ready: endpoints });
