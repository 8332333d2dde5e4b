// The clients of tls-servers-app.ts (node:net's, in a process of its own, never recorded): at
// TLS_PORT, HTTPS_PORT, H2_PORT, H2C_PORT and STARTTLS_PORT, one connection after another — the echo server with a
// client certificate and without, a client that does not trust the server, plaintext to a TLS
// port; two https requests on one keep-alive connection; http2 over HTTP/1.1 and over h2; a plain
// http2 request; STARTTLS trusted, given up before the handshake, answered with plaintext, not
// trusted. Prints what each got; makes 12 connections.
import tls from 'node:tls';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import { readFileSync } from 'node:fs';

const key = readFileSync(process.env.TLS_KEY!);
const ca = readFileSync(process.env.TLS_CA!);
const [tlsPort, httpsPort, h2Port, h2cPort, starttlsPort] = [process.env.TLS_PORT, process.env.HTTPS_PORT, process.env.H2_PORT, process.env.H2C_PORT, process.env.STARTTLS_PORT].map(Number);

function echo(options: tls.ConnectionOptions): Promise<void> {
  return new Promise((resolve) => {
    const c = tls.connect({ port: tlsPort, host: 'localhost', ALPNProtocols: ['echo'], ...options }, () => c.end('ping'));
    c.setEncoding('utf8');
    c.on('data', (d) => console.log(`echo got ${d}`));
    c.on('error', (e: NodeJS.ErrnoException) => console.log(`echo error ${e.code}`));
    c.on('close', () => resolve());
  });
}

function plaintext(): Promise<void> {
  return new Promise((resolve) => {
    const c = net.connect(tlsPort, '127.0.0.1', () => c.write('GET / HTTP/1.0\r\n\r\n'));
    c.on('error', () => {});
    c.on('close', () => { console.log('plaintext closed'); resolve(); });
  });
}

const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
function get(port: number, path: string, method = 'GET', body?: string): Promise<void> {
  return new Promise((resolve) => {
    const req = https.request({ port, host: 'localhost', ca, path, method, agent }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { console.log(`${path} ${res.statusCode} ${res.headers['x-served'] ?? ''} ${text}`); resolve(); });
    });
    req.end(body);
  });
}

await echo({ ca, key, cert: ca });
await echo({ ca });
await echo({});
await plaintext();
await get(httpsPort, '/a');
await get(httpsPort, '/b', 'POST', 'a body');
agent.destroy();
const other = new https.Agent({ keepAlive: false });
await new Promise<void>((resolve) => https.get({ port: h2Port, host: 'localhost', ca, path: '/over-http1', agent: other }, (res) => {
  res.resume();
  res.on('end', () => { console.log(`/over-http1 ${res.statusCode}`); resolve(); });
}));
const session = http2.connect(`https://localhost:${h2Port}`, { ca });
for (const path of ['/one', '/two']) {
  await new Promise<void>((resolve) => {
    const s = session.request({ ':path': path });
    let text = '';
    s.on('data', (d) => { text += d; });
    s.on('end', () => { console.log(`${path} ${text}`); resolve(); });
  });
}
session.close();
const plain = http2.connect(`http://127.0.0.1:${h2cPort}`);
await new Promise<void>((resolve) => {
  const s = plain.request({ ':path': '/clear' });
  let text = '';
  s.on('data', (d) => { text += d; });
  s.on('end', () => { console.log(`/clear ${text}`); resolve(); });
});
plain.close();

/** A STARTTLS exchange: the greeting, STARTTLS, the go-ahead, then what `mode` says. */
function upgrade(mode: 'trusted' | 'gone' | 'plaintext' | 'untrusted'): Promise<void> {
  return new Promise((resolve) => {
    const p = net.connect(starttlsPort, '127.0.0.1', () => p.write('STARTTLS\r\n'));
    p.on('error', () => {});
    let text = '';
    const onData = (d: Buffer): void => {
      text += d;
      if (!text.includes('220 go')) return;
      p.off('data', onData);
      if (mode === 'gone') { p.destroy(); console.log('starttls gone'); resolve(); return; }
      if (mode === 'plaintext') { p.end('GET / HTTP/1.0\r\n\r\n'); p.resume(); p.on('close', () => { console.log('starttls plaintext closed'); resolve(); }); return; }
      const t = tls.connect({ socket: p, servername: 'localhost', ca: mode === 'trusted' ? ca : undefined }, () => t.write('over tls'));
      t.on('data', (d) => console.log(`starttls got ${d}`));
      t.on('error', (e: NodeJS.ErrnoException) => console.log(`starttls error ${e.code}`));
      t.on('close', () => resolve());
    };
    p.on('data', onData);
  });
}
for (const mode of ['trusted', 'gone', 'plaintext', 'untrusted'] as const) await upgrade(mode);
