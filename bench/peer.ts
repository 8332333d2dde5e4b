// The bench's peer, in its own process: plain node:net servers that the measured side (wasinet
// or node:net, in the parent process) talks to.
//   sink   — reads everything; at EOF answers with the byte count and ends.
//   source — reads an 8-byte header (u32 total MiB, u32 chunk bytes), writes that much, ends.
//   echo   — writes back whatever it reads.
import net from 'node:net';

function listen(handler: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer({ noDelay: true } as net.ServerOpts, handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

const sink = await listen((s) => {
  let n = 0;
  s.on('data', (d) => { n += d.length; });
  s.on('end', () => s.end(String(n)));
});

const source = await listen((s) => {
  s.once('readable', function read() {
    const head = s.read(8) as Buffer | null;
    if (!head) { s.once('readable', read); return; }
    let left = head.readUInt32LE(0) * 1024 * 1024;
    const chunk = Buffer.alloc(head.readUInt32LE(4), 7);
    const pump = () => {
      while (left > 0) {
        const b = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= b.length;
        if (!s.write(b)) { s.once('drain', pump); return; }
      }
      s.end();
    };
    pump();
  });
});

const echo = await listen((s) => { s.setNoDelay(true); s.pipe(s); });

process.stdout.write(JSON.stringify({ sink, source, echo }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
