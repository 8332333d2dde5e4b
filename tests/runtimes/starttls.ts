// Run by tests/host/runtimes.test.ts on Deno and Bun (and on Node for the reference): STARTTLS
// with the runtime's own node:tls over wasinet sockets. The client reads a plain-text greeting
// with setEncoding, asks for TLS and upgrades with tls.connect({ socket }); the server upgrades
// its side with new tls.TLSSocket(socket, { isServer }). Argument `wasinet`: both sides are
// wasinet sockets; `client`: the server is the runtime's own node:net (Bun's server-side
// TLSSocket takes only its own sockets: README). Prints one JSON line: what each side saw, in order,
// with whether each TLS socket has the addresses of the socket under it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import runtimeNet from 'node:net';
import net from '../../host/index.js';

declare const Deno: { args: string[] } | undefined;
const args = typeof Deno !== 'undefined' ? Deno.args : process.argv.slice(2);
const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../tests/fixtures/${name}`, import.meta.url)));
const key = fixture('localhost-key.pem');
const cert = fixture('localhost-cert.pem');
const client: string[] = [];
const serverLog: string[] = [];
setTimeout(() => { process.stdout.write(JSON.stringify({ timeout: true, client, server: serverLog }) + '\n'); process.exit(1); }, 10_000).unref?.();

/** Whether a TLS socket has the addresses of the socket under it (the TCP connection's). */
function sameAddresses(t: tls.TLSSocket, plain: { localPort?: number; remotePort?: number; remoteAddress?: string; remoteFamily?: string }): boolean {
  return typeof t.localPort === 'number' && t.localPort === plain.localPort && t.remotePort === plain.remotePort &&
    t.remoteAddress === plain.remoteAddress && t.remoteFamily === plain.remoteFamily &&
    (t.address() as { port?: number }).port === plain.localPort;
}

const serverNet = args[0] === 'client' ? runtimeNet : net;
const server = serverNet.createServer((s) => {
  s.setEncoding('latin1');
  s.on('data', (d: string) => {
    serverLog.push(`server plain ${JSON.stringify(d)}`);
    if (d !== 'STARTTLS\r\n') return;
    s.write('220 go ahead\r\n', () => {
      const t = new tls.TLSSocket(s, { isServer: true, key, cert });
      t.on('secure', () => {
        serverLog.push('server secure');
        serverLog.push(`server addresses ${sameAddresses(t, s)}`);
      });
      t.on('error', (e: NodeJS.ErrnoException) => serverLog.push(`server error ${e.code ?? e.message}`));
      t.setEncoding('utf8');
      t.on('data', (x: string) => { serverLog.push(`server tls ${x}`); t.end(`bye ${x}`); });
    });
  });
  s.write('220 hello\r\n');
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect((server.address() as { port: number }).port, '127.0.0.1');
  c.setEncoding('utf8');
  c.on('data', (d: string) => {
    client.push(`client plain ${JSON.stringify(d)}`);
    if (d === '220 hello\r\n') c.write('STARTTLS\r\n');
    else if (d === '220 go ahead\r\n') {
      const t = tls.connect({ socket: c as unknown as runtimeNet.Socket, ca: cert, servername: 'localhost' });
      let answer = '';
      t.on('secureConnect', () => {
        client.push(`client secure ${t.authorized}`);
        // Bun's TLS socket over a stream that is not its own has no addresses (README).
        if (args[0] !== 'client') client.push(`client addresses ${sameAddresses(t, c)}`);
        t.write('ping');
      });
      t.on('error', (e: NodeJS.ErrnoException) => client.push(`client error ${e.code ?? e.message}`));
      t.on('data', (x: Buffer) => { answer += x; });
      t.on('close', () => {
        client.push(`client tls ${answer}`);
        server.close();
        process.stdout.write(JSON.stringify({ client, server: serverLog }) + '\n');
      });
    }
  });
});
