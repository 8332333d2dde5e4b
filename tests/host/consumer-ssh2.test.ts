// Consumers: ssh2 on a `net`. An ssh2 Server fed the lib's sockets (`sshServer.injectSocket(socket)`
// from the lib's server), an ssh2 Client on a lib socket (`conn.connect({ sock })`); `exec` of
// commands the server implements in JS (no shell), and `forwardOut` (direct-tcpip) to an echo
// server made with the lib. Every case runs with node:net and with wasinet as the lib.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { EventEmitter } from 'node:events';
import {
  both, fixture, once, until, digest, patternChunks, patternSha, writeAll, MiB, type Scope, type Sock,
} from './consumers/util.js';

const { Server, Client, utils } = ssh2;
const host = '127.0.0.1';
const hostKey = fixture('ssh-host-ed25519');
const hostPub = (utils.parseKey(fixture('ssh-host-ed25519.pub')) as ssh2.ParsedKey).getPublicSSH();

/** The commands the server runs (in JS): sha256sum of stdin, echo, and one that fails. */
function runCommand(command: string, stream: ssh2.ServerChannel): void {
  const [name, ...args] = command.split(' ');
  if (name === 'sha256sum') {
    const h = createHash('sha256');
    let n = 0;
    stream.on('data', (d: Buffer) => { h.update(d); n += d.length; });
    stream.on('end', () => { stream.write(`${h.digest('hex')}  -  ${n}\n`); stream.exit(0); stream.end(); });
  } else if (name === 'echo') {
    stream.write(`${args.join(' ')}\n`);
    stream.exit(0);
    stream.end();
  } else {
    stream.stderr.write(`${name}: no such command\n`);
    stream.exit(127);
    stream.end();
  }
}

/**
 * An ssh2 Server fed by the lib's server; direct-tcpip channels are connected with the lib.
 * Resolves with the port and what the server logged.
 */
async function sshServer(sc: Scope) {
  const log: string[] = [];
  const srv = new Server({ hostKeys: [hostKey] }, (client) => {
    client.on('error', (e) => log.push(`client error ${e.message}`));
    client.on('authentication', (ctx) => {
      if (ctx.method === 'password' && ctx.username === 'alice' && ctx.password === 'wonderland') ctx.accept();
      else ctx.reject(['password']);
    });
    client.on('ready', () => log.push('ready'));
    client.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acceptExec, _reject, info) => { log.push(`exec ${info.command}`); runCommand(info.command, acceptExec()); });
    });
    client.on('tcpip', (accept, reject, info) => {
      log.push(`tcpip to ${info.destIP}:${info.destPort === 0 ? 0 : 'echo'}`);
      const out = sc.net.connect({ port: info.destPort, host: info.destIP, allowHalfOpen: true });
      out.on('error', () => reject());
      out.once('connect', () => {
        const ch = accept();
        ch.pipe(out).pipe(ch);
      });
    });
  });
  sc.defer(() => new Promise((r) => srv.close(() => r(null))));
  const front = sc.net.createServer((s) => srv.injectSocket(s));
  const port = await new Promise<number>((resolve) => front.listen(0, host, () => resolve((front.address() as { port: number }).port)));
  return { port, log };
}

/** An ssh2 Client on a lib socket, ready. */
async function sshClient(sc: Scope, port: number): Promise<ssh2.Client> {
  const conn = new Client();
  sc.defer(() => conn.end());
  const sock = sc.net.connect(port, host);
  conn.connect({
    sock, username: 'alice', password: 'wonderland', readyTimeout: 5000,
    hostVerifier: (key: Buffer) => key.equals(hostPub),
  } as ssh2.ConnectConfig);
  await once(conn as unknown as EventEmitter, 'ready');
  return conn;
}

/** exec(command) with `stdin`; resolves with stdout, stderr and the exit code. */
function exec(conn: ssh2.Client, command: string, stdin: Buffer[] | null): Promise<string> {
  return new Promise((resolve, reject) => {
    conn.exec(command, (err, stream) => {
      if (err) { reject(err); return; }
      let out = '';
      let errOut = '';
      let code: number | null = null;
      stream.on('data', (d: Buffer) => { out += d; });
      stream.stderr.on('data', (d: Buffer) => { errOut += d; });
      stream.on('exit', (c: number) => { code = c; });
      stream.on('close', () => resolve(`code=${code} out=${JSON.stringify(out)} err=${JSON.stringify(errOut)}`));
      if (stdin) void writeAll(stream, stdin).catch(reject); else stream.end();
    });
  });
}

both('ssh2 server fed the lib, client on a lib socket: password auth, exec of JS commands with 1 MiB stdin, exit codes', { timeout: 15000 }, async (sc) => {
  const { port, log } = await sshServer(sc);
  const conn = await sshClient(sc, port);
  const results = [
    await exec(conn, 'echo hello over ssh', null),
    await exec(conn, 'sha256sum', patternChunks(60, MiB, 32 * 1024)),
    await exec(conn, 'nope', null),
  ];
  conn.end();
  await once(conn as unknown as EventEmitter, 'close');
  await until(() => log.length >= 4, 2000, 'the server log');
  return { results, log };
}, (r) => {
  assert.deepEqual(r, {
    results: [
      'code=0 out="hello over ssh\\n" err=""',
      `code=0 out="${patternSha(60, MiB)}  -  ${MiB}\\n" err=""`,
      'code=127 out="" err="nope: no such command\\n"',
    ],
    log: ['ready', 'exec echo hello over ssh', 'exec sha256sum', 'exec nope'],
  });
});

both('ssh2 forwardOut through the lib both ends: 1 MiB each way through the tunnel to a lib echo server, hashed', { timeout: 15000 }, async (sc) => {
  const echo = sc.net.createServer({ allowHalfOpen: true }, (s: Sock) => s.pipe(s));
  const echoPort = await new Promise<number>((resolve) => echo.listen(0, host, () => resolve((echo.address() as { port: number }).port)));
  const { port, log } = await sshServer(sc);
  const conn = await sshClient(sc, port);
  const tunnels = await Promise.all([61, 62].map((seed) => new Promise<string>((resolve, reject) => {
    conn.forwardOut('127.0.0.1', 0, host, echoPort, (err, ch) => {
      if (err) { reject(err); return; }
      void Promise.all([digest(ch), writeAll(ch, patternChunks(seed, MiB))]).then(([d]) => resolve(`${d.bytes} ${d.sha}`), reject);
    });
  })));
  conn.end();
  await once(conn as unknown as EventEmitter, 'close');
  return { tunnels, log };
}, (r) => {
  assert.deepEqual(r, {
    tunnels: [`${MiB} ${patternSha(61, MiB)}`, `${MiB} ${patternSha(62, MiB)}`],
    log: ['ready', 'tcpip to 127.0.0.1:echo', 'tcpip to 127.0.0.1:echo'],
  });
});
