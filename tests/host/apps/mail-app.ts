// An unmodified program: an smtp-server and a nodemailer client (which connects through `net`
// itself) sending one message. What it writes carries the date (the message's Date header, from
// `new Date()`) and random values (its Message-ID and MIME boundary, the server's session id).
// tests/host/replay-random.test.ts records it under `--import wasinet/register` and replays it a
// while later. It prints one JSON line: the message as the server got it, and its Date header.
import { SMTPServer } from 'smtp-server';
import nodemailer from 'nodemailer';
import type { AddressInfo } from 'node:net';

let message = '';
const server = new SMTPServer({
  authOptional: true, disabledCommands: ['STARTTLS'],
  onData(stream, _session, callback) {
    stream.on('data', (d: Buffer) => { message += d.toString('latin1'); });
    stream.on('end', () => callback());
  },
});
server.listen(0, '127.0.0.1', async () => {
  const { port } = (server as unknown as { server: { address(): AddressInfo } }).server.address();
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  await transport.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'hi', text: 'hello', attachments: [{ filename: 'x.txt', content: 'attached' }] });
  transport.close();
  server.close(() => {
    console.log(JSON.stringify({ date: /^Date: (.*)$/m.exec(message)?.[1] ?? null, message }));
  });
});
