// A small client/server application with a timing-dependent bug, for the application-replay
// tests. The server answers a PING line with "PONG\n", written in two pieces 20-40 ms apart (as
// a server that streams its answer does). The buggy client takes each 'data' chunk for one whole
// line: when the two pieces arrive apart — which depends on timing — it sees "PO", complains
// with a BAD line and counts a failure. The fixed client assembles lines first.
// It is written against a `net` object it is given, as an application that wants to be tested.
import type NodeNet from 'node:net';

export interface Outcome {
  /** What the client took for replies. */
  replies: string[];
  /** The client saw a reply other than PONG. */
  failed: boolean;
  /** Lines the server got. */
  serverGot: string[];
}

type Net = Pick<typeof NodeNet, 'createServer' | 'connect'>;

function lines(sock: NodeNet.Socket, onLine: (line: string) => void): void {
  let buf = '';
  sock.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

/** `stallMs`: the client's data handler blocks the event loop this long once (a slow handler). */
export function pingpong(net: Net, fixed: boolean, stallMs = 0): Promise<Outcome> {
  const out: Outcome = { replies: [], failed: false, serverGot: [] };
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => {
      lines(s, (line) => {
        out.serverGot.push(line);
        if (line !== 'PING') return;
        s.write('PO');
        // A global timer: outside the stack, so its delay is not part of the recording (a replay
        // waits for the call it makes; it must not fire before the replay reached the transport
        // events recorded before it, hence no less than 20 ms).
        setTimeout(() => s.end('NG\n'), 20 + Math.floor(Math.random() * 20));
      });
      s.on('error', () => {});
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const c = net.connect(port, '127.0.0.1', () => c.write('PING\n'));
      const reply = (r: string): void => {
        out.replies.push(r);
        for (const end = Date.now() + stallMs; Date.now() < end;);
        stallMs = 0;
        if (r === 'PONG' || r === 'PONG\n') {
          c.write('THANKS\n');
          return;
        }
        if (out.failed) return;
        out.failed = true;
        c.write(`BAD ${JSON.stringify(r)}\n`);
      };
      if (fixed) lines(c, reply);
      else c.on('data', (d: Buffer) => reply(d.toString('latin1'))); // the bug: a chunk is not a line
      c.on('error', reject);
      c.on('close', () => server.close(() => resolve(out)));
    });
  });
}
