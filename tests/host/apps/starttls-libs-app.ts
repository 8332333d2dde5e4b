// An unmodified program that serves and uses TLS through third-party libraries, upgrading plain
// connections: smtp-server with STARTTLS and nodemailer sending through it; ftp-srv with explicit
// FTPS (AUTH TLS, TLS data connections) and basic-ftp listing and downloading; a ws server on
// an https server and a ws client over wss. Under `--import wasinet/register` with
// WASINET_RECORD or WASINET_REPLAY every session runs below wasinet's core, the servers' too.
// FTP_PORT: the FTP control port (passive data ports follow it); FTP_ROOT: a folder with hello.txt.
import { createRequire } from 'node:module';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';

const require = createRequire(join(process.cwd(), 'package.json'));
const key = readFileSync(process.env.TLS_KEY!);
const cert = readFileSync(process.env.TLS_CA!);

async function smtp(): Promise<void> {
  const { SMTPServer } = require('smtp-server');
  const nodemailer = require('nodemailer');
  const server = new SMTPServer({
    key, cert, authOptional: true, logger: false,
    onSecure(socket: { encrypted?: boolean }, session: { servername?: string }, cb: () => void) { console.log(`smtp server: secure encrypted=${socket.encrypted} servername=${session.servername}`); cb(); },
    onData(stream: NodeJS.ReadableStream, _session: unknown, cb: () => void) {
      let text = '';
      stream.on('data', (d) => { text += d; });
      stream.on('end', () => { console.log(`smtp server: ${text.split('\r\n').filter((l) => l.startsWith('Subject')).join()}`); cb(); });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.server.address().port;
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { ca: cert, servername: 'localhost' } });
  const info = await transport.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'hello over starttls', text: 'body', messageId: '<fixed@example.com>', date: new Date(0) });
  console.log(`smtp client: ${info.response.slice(0, 6)}`);
  transport.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function ftps(): Promise<void> {
  const FtpSrv = require('ftp-srv');
  const ftp = require('basic-ftp');
  const port = Number(process.env.FTP_PORT);
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child() { return this; } };
  const srv = new FtpSrv({ url: `ftp://127.0.0.1:${port}`, pasv_url: '127.0.0.1', pasv_min: port + 1, pasv_max: port + 20, tls: { key, cert }, anonymous: true, log: quiet });
  srv.on('login', (_d: unknown, resolve: (r: object) => void) => resolve({ root: process.env.FTP_ROOT }));
  await srv.listen();
  const c = new ftp.Client();
  await c.access({ host: '127.0.0.1', port, secure: true, secureOptions: { ca: cert, servername: 'localhost' } });
  console.log(`ftp list ${(await c.list()).map((f: { name: string }) => f.name).join(',')}`);
  const chunks: Buffer[] = [];
  await c.downloadTo(new Writable({ write(ch, _e, cb) { chunks.push(ch); cb(); } }), 'hello.txt');
  console.log(`ftp got ${Buffer.concat(chunks).toString().trim()}`);
  c.close();
  await srv.close();
}

async function wss(): Promise<void> {
  const { WebSocketServer, WebSocket } = require('ws');
  const server = https.createServer({ key, cert });
  const wsServer = new WebSocketServer({ server });
  wsServer.on('connection', (ws: { on: Function; send: Function }, req: { url: string; socket: { encrypted?: boolean } }) => {
    console.log(`wss server: ${req.url} encrypted=${req.socket.encrypted}`);
    ws.on('message', (m: Buffer) => ws.send(`echo ${m}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const ws = new WebSocket(`wss://localhost:${(server.address() as { port: number }).port}/path`, { ca: cert });
  await new Promise<void>((resolve) => {
    ws.on('open', () => { ws.send('one'); ws.send('two'); });
    let n = 0;
    ws.on('message', (m: Buffer) => { console.log(`wss client: ${m}`); if (++n === 2) ws.close(); });
    ws.on('close', (code: number) => { console.log(`wss client: closed ${code}`); resolve(); });
  });
  wsServer.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

await smtp();
await ftps();
await wss();
console.log('done');
