// The servers tls-app.ts talks to, in a process of their own (node:net's, never recorded): a TLS
// echo with ALPN, an https server, and a STARTTLS echo (a plain line, then TLS on the same
// connection). Prints `TLS_PORT HTTPS_PORT STARTTLS_PORT` once they listen; ends when its stdin closes.
import tls from 'node:tls';
import https from 'node:https';
import net from 'node:net';
import { readFileSync } from 'node:fs';

const key = readFileSync(process.env.TLS_KEY!);
const cert = readFileSync(process.env.TLS_CA!);
const echo = tls.createServer({ key, cert, ALPNProtocols: ['echo'] }, (s) => {
  s.on('data', (d) => s.write(`echo:${d}`));
  s.on('end', () => s.end());
  s.on('error', () => {});
});
echo.on('tlsClientError', () => {});
const web = https.createServer({ key, cert }, (req, res) => res.end(`hi ${req.url}`));
const starttls = net.createServer((s) => {
  s.on('error', () => {});
  s.write('220 ready, say STARTTLS\r\n');
  s.once('data', () => {
    s.write('220 go ahead\r\n');
    const t = new tls.TLSSocket(s, { isServer: true, key, cert });
    t.on('data', (d) => t.write(`echo:${d}`));
    t.on('end', () => t.end());
    t.on('error', () => {});
  });
});
const port = (s: net.Server): number => (s.address() as { port: number }).port;
echo.listen(0, '127.0.0.1', () => web.listen(0, '127.0.0.1', () => starttls.listen(0, '127.0.0.1', () => {
  console.log(`${port(echo)} ${port(web)} ${port(starttls)}`);
})));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
