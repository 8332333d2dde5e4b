// The servers tls-app.ts talks to, in a process of their own (node:net's, never recorded): a TLS
// echo with ALPN, and an https server. Prints `TLS_PORT HTTPS_PORT` once both listen; ends when
// its stdin closes.
import tls from 'node:tls';
import https from 'node:https';
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
echo.listen(0, '127.0.0.1', () => web.listen(0, '127.0.0.1', () => {
  console.log(`${(echo.address() as { port: number }).port} ${(web.address() as { port: number }).port}`);
}));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
