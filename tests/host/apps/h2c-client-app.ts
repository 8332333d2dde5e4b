// A plain http2 client (h2c), unmodified: `http2.connect('http://…')` to the server whose port is
// its argument — a URL string and a URL object with a connect listener, GETs and a POST of
// 100 KiB — printing what it gets. Under the register hook while recording, its connections are
// wasinet's (host/register/http.ts routeHttp2), so a replay needs no server.
import http2 from 'node:http2';
import { createHash } from 'node:crypto';

const port = Number(process.argv[2]);
const log = (s: string): void => { process.stdout.write(s + '\n'); };

function request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers);
    const chunks: Buffer[] = [];
    req.on('response', (h) => log(`${headers[':method'] ?? 'GET'} ${headers[':path']}: ${h[':status']} ${h['content-type'] ?? ''}`));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const all = Buffer.concat(chunks);
      log(`  ${all.length} B ${all.length > 64 ? createHash('sha256').update(all).digest('hex').slice(0, 16) : all}`);
      resolve();
    });
    req.on('error', reject);
    req.end(body);
  });
}

const one = http2.connect(`http://127.0.0.1:${port}`);
one.on('error', (e) => log(`session error ${e.message}`));
await request(one, { ':path': '/a' });
await request(one, { ':path': '/echo', ':method': 'POST' }, Buffer.alloc(100 * 1024, 'x'));
await request(one, { ':path': '/b' });
const two = await new Promise<http2.ClientHttp2Session>((resolve) => {
  const s = http2.connect(new URL(`http://localhost:${port}`), () => { log(`connected ${s.alpnProtocol} ${s.encrypted}`); resolve(s); });
});
await request(two, { ':path': '/c' });
await Promise.all([new Promise<void>((r) => one.close(() => r())), new Promise<void>((r) => two.close(() => r()))]);
log('done');
