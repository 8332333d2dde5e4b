// An unmodified program that serves TLS: a tls echo server with ALPN that asks for client
// certificates, an https server, and an http2 secure server (HTTP/1.1 allowed) — and a plain
// http2 server (h2c), and a STARTTLS server (a line, then `new tls.TLSSocket(socket, { isServer:
// true })` on the same connection). It prints `PORTS tls https h2 h2c starttls` once all five listen, logs what its servers see, and closes them once
// EXPECTED connections ended (tls-servers-clients.ts makes them, from another process). Under
// `--import wasinet/register` with WASINET_RECORD or WASINET_REPLAY the servers listen through
// wasinet and their sessions run below its core: a recording keeps the plaintext, and a replay
// gives this program the same lines offline, with no client.
import tls from 'node:tls';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import { readFileSync } from 'node:fs';

const key = readFileSync(process.env.TLS_KEY!);
const cert = readFileSync(process.env.TLS_CA!);
const log = (line: string): void => { console.log(line); };
let left = Number(process.env.EXPECTED);
const ended = (): void => { if (--left === 0) for (const s of [echo, web, h2, h2c, starttls]) s.close(() => log(`closed ${s.constructor.name}`)); };

const echo = tls.createServer({ key, cert, ca: cert, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['echo'] }, (s) => {
  const peer = s.getPeerCertificate() as tls.PeerCertificate;
  log(`echo secure authorized=${s.authorized} ${s.authorizationError} alpn=${s.alpnProtocol} sni=${(s as { servername?: unknown }).servername} peer=${peer.subject?.CN} protocol=${s.getProtocol()}`);
  log(`echo instanceof tls.TLSSocket=${s instanceof tls.TLSSocket} net.Socket=${s instanceof net.Socket} encrypted=${s.encrypted}`);
  // Whose session this is (stderr: the lines on stdout are the same either way).
  console.error(`server session below wasinet's core: ${Object.getPrototypeOf(s) !== tls.TLSSocket.prototype}`);
  s.setEncoding('utf8');
  s.on('data', (d: string) => { log(`echo data ${d}`); s.write(`echo:${d}`); });
  s.on('end', () => { log('echo end'); s.end(); });
  s.on('close', () => { log('echo close'); ended(); });
});
echo.on('tlsClientError', (e: NodeJS.ErrnoException) => { log(`echo tlsClientError ${e.code}`); ended(); });

const web = https.createServer({ key, cert }, (req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    log(`https ${req.method} ${req.url} ${body}`);
    res.setHeader('x-served', 'yes');
    res.end(`hi ${req.url}`);
  });
});
web.on('connection', (s: net.Socket) => s.on('close', ended));

const h2 = http2.createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => {
  log(`h2 ${req.httpVersion} ${req.method} ${req.url}`);
  res.end(`h2 hi ${req.url}`);
});
h2.on('connection', (s: net.Socket) => s.on('close', ended));

const h2c = http2.createServer((req, res) => {
  log(`h2c ${req.httpVersion} ${req.method} ${req.url}`);
  res.end(`h2c hi ${req.url}`);
});
h2c.on('connection', (s: net.Socket) => s.on('close', ended));

const secureContext = tls.createSecureContext({ key, cert });
let upgrades = 0;
const starttls = net.createServer((s) => {
  s.write('220 hello\r\n');
  s.once('data', () => {
    s.write('220 go\r\n', () => {
      const id = upgrades++;
      const t = new tls.TLSSocket(s, { isServer: true, secureContext });
      log(`starttls ${id} instanceof tls.TLSSocket=${t instanceof tls.TLSSocket} net.Socket=${t instanceof net.Socket} encrypted=${t.encrypted}`);
      for (const e of ['secure', 'end', 'finish', 'close']) t.on(e, () => log(`starttls ${id} ${e}`));
      for (const e of ['error', '_tlsError']) t.on(e, (err: NodeJS.ErrnoException) => log(`starttls ${id} ${e} ${err.code}`));
      t.on('secure', () => log(`starttls ${id} secure protocol=${t.getProtocol()} servername=${(t as { servername?: unknown }).servername}`));
      t.on('data', (d) => { log(`starttls ${id} data ${d}`); t.end(`echo:${d}`); });
      t.on('close', ended);
    });
  });
});

const port = (s: net.Server): number => (s.address() as net.AddressInfo).port;
echo.listen(0, '127.0.0.1', () => web.listen(0, '127.0.0.1', () => h2.listen(0, '127.0.0.1', () => h2c.listen(0, '127.0.0.1', () => starttls.listen(0, '127.0.0.1', () => {
  log(`PORTS ${port(echo)} ${port(web)} ${port(h2)} ${port(h2c)} ${port(starttls)}`);
})))));
