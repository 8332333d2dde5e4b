// Consumers: SMTP with STARTTLS on a `net`. An smtp-server fed the lib server's sockets
// (`smtp.connect(socket)`, what its own listener does with each connection) upgrades them with
// `new tls.TLSSocket(socket, { isServer })`; nodemailer, given the lib's sockets through its
// `getSocket` option, connects them and upgrades with `tls.connect({ socket })`. Both sides read
// plain-text lines first and TLS on the same socket after. Every case runs with node:net and with
// wasinet as the lib (consumers/util.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import nodemailer from 'nodemailer';
import { both, tlsFixture, type Scope } from './consumers/util.js';

const host = '127.0.0.1';
const { key, cert } = tlsFixture;

interface Received { secure: boolean; subject: string; bytes: number; sha: string }

/** An smtp-server fed the lib's server's sockets; what it received, message by message. */
async function smtpServer(sc: Scope): Promise<{ port: number; received: Received[] }> {
  const received: Received[] = [];
  const smtp = new SMTPServer({
    key, cert, authOptional: true, logger: false, size: 64 * 1024 * 1024,
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        const all = Buffer.concat(chunks);
        const subject = /^Subject: (.*)$/m.exec(all.toString('latin1'))?.[1] ?? '';
        received.push({ secure: session.secure, subject, bytes: all.length, sha: createHash('sha256').update(all).digest('hex').slice(0, 16) });
        cb();
      });
    },
  });
  let n = 0;
  const server = sc.net.createServer((s) => {
    (smtp as unknown as { connect(s: unknown, o: { id: string }): void }).connect(s, { id: `c${n++}` });
  });
  const port = await sc.listen(server);
  return { port, received };
}

function transport(sc: Scope, port: number) {
  const t = nodemailer.createTransport({
    host, port, secure: false, requireTLS: true, tls: { ca: cert, servername: 'localhost' },
    // The lib's socket, not yet connected: nodemailer connects it and upgrades it.
    getSocket: (_options: unknown, cb: (err: Error | null, info?: { socket: unknown }) => void) => cb(null, { socket: sc.track(new sc.net.Socket()) }),
  } as Parameters<typeof nodemailer.createTransport>[0]);
  sc.defer(() => t.close());
  return t;
}

both('smtp-server fed the lib\'s sockets, nodemailer on lib sockets: STARTTLS required, 3 messages up to 0.8 MB, received intact', { timeout: 20000 }, async (sc) => {
  const { port, received } = await smtpServer(sc);
  const t = transport(sc, port);
  const sent: string[] = [];
  for (let i = 0; i < 3; i++) {
    // A fixed date and id: the same message on either lib, so their digests compare.
    const info = await t.sendMail({ from: 'a@x.test', to: 'b@y.test', subject: `hello ${i}`, text: `line ${i} `.repeat(40000 * (i + 1)),
      date: new Date(Date.UTC(2026, 11, 5)), messageId: `<m${i}@x.test>` });
    sent.push(info.response.split(' ')[0]);
  }
  return { sent, received };
}, (r) => {
  assert.deepEqual(r.sent, ['250', '250', '250']);
  assert.equal(r.received.length, 3);
  assert.deepEqual(r.received.map((m) => [m.secure, m.subject]), [[true, 'hello 0'], [true, 'hello 1'], [true, 'hello 2']]);
  assert.ok(r.received[2].bytes > 800_000, `${r.received[2].bytes} bytes`);
});
