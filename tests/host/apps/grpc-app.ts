// An unmodified @grpc/grpc-js program: a server and a client of one service with every kind of
// call — unary (request metadata answered in the response's initial and trailing metadata),
// server streaming, client streaming, bidi streaming, a 4 MiB message each way, a call whose
// deadline passes while the server waits, and an error status with trailing metadata (text and
// binary). grpc-js's client connects with `net` (and `tls.connect({ socket })` for TLS); its server
// is an http2 server (h2c, or http2.createSecureServer with TLS). Under `--import wasinet/register`
// the client's connections are wasinet's, and with WASINET_RECORD or WASINET_REPLAY the servers
// listen through wasinet too (h2c and TLS, each TLS session below the core).
//
// GRPC_ROLE: `both` (default: server and client in this process, insecure then TLS), `server`
// (prints `PORT n`, serves until a client calls Shutdown) or `client` (calls the server at
// GRPC_PORT). GRPC_TLS=1: the server or client role over TLS. TLS_KEY, TLS_CA: the key and the
// certificate of `localhost`. GRPC_PORT for the server role: the port to listen on (default 0).
// Each side prints its own lines, in the order they happened on that side, after its calls: no
// ports, times or ids, so the output of every run is the same.
//
// GRPC_SLOW=0 leaves the deadline call out. With server and client in one process it arms two
// timers a millisecond apart (the client's deadline, the server's from the call's grpc-timeout
// header), sometimes run in one run of Node's timers (the recording then has the server's
// trailers in the client's turn), sometimes not: a replay runs each where the recording says it
// ran (docs/replay.md, "The program's timers").
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.cwd(), 'package.json'));
const grpc = require('@grpc/grpc-js');
const key = readFileSync(process.env.TLS_KEY!);
const cert = readFileSync(process.env.TLS_CA!);
const role = process.env.GRPC_ROLE ?? 'both';
const MiB = 1 << 20;
const BIG = 4 * MiB;
const limits = { 'grpc.max_receive_message_length': 8 * MiB, 'grpc.max_send_message_length': 8 * MiB };

// A bounded guard: the program never hangs a test (unref'ed: it does not keep the process alive).
setTimeout(() => { console.log('TIMEOUT'); process.exit(2); }, 60_000).unref();

interface Codec { serialize(v: any): Buffer; deserialize(b: Buffer): any }
const json: Codec = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): any => JSON.parse(String(b)),
};
const raw: Codec = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };
function method(name: string, requestStream: boolean, responseStream: boolean, codec: Codec = json) {
  return {
    path: `/wasinet.test.Probe/${name}`, requestStream, responseStream,
    requestSerialize: codec.serialize, requestDeserialize: codec.deserialize,
    responseSerialize: codec.serialize, responseDeserialize: codec.deserialize,
  };
}
const service = {
  echo: method('Echo', false, false),
  big: method('Big', false, false, raw),
  slow: method('Slow', false, false),
  count: method('Count', false, true),
  sum: method('Sum', true, false),
  chat: method('Chat', true, true),
  shutdown: method('Shutdown', false, false),
};
const Client = grpc.makeGenericClientConstructor(service, 'Probe');

function pattern(seed: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16);
const statusName = (code: number): string => Object.keys(grpc.status).find((k) => grpc.status[k] === code) ?? String(code);

/** The service's handlers; `log` gets the server's lines, `onShutdown` runs after Shutdown's answer. */
function handlers(log: (line: string) => void, slowCancelled: () => void, onShutdown: () => void) {
  return {
    echo(call: any, cb: any) {
      const who = call.metadata.get('x-client')[0];
      log(`echo ${call.request.text} from=${who}`);
      if (call.request.text === 'fail') {
        const md = new grpc.Metadata();
        md.set('x-reason', 'no such thing');
        md.set('x-detail-bin', Buffer.from([0, 1, 2, 255]));
        cb({ code: grpc.status.NOT_FOUND, details: 'the thing is not here', metadata: md });
        return;
      }
      const head = new grpc.Metadata();
      head.set('x-served-by', 'probe');
      call.sendMetadata(head);
      const trailer = new grpc.Metadata();
      trailer.set('x-echoed', String(who));
      cb(null, { text: `echo ${call.request.text}` }, trailer);
    },
    big(call: any, cb: any) {
      log(`big got ${call.request.length} ${sha(call.request)}`);
      cb(null, pattern(7, BIG));
    },
    slow(call: any, cb: any) {
      log(`slow ${call.request.ms}`);
      // Answers only if not cancelled in time (the client's deadline is shorter).
      const timer = setTimeout(() => { log('slow answered'); cb(null, { late: true }); }, call.request.ms);
      call.on('cancelled', () => { clearTimeout(timer); log(`slow cancelled=${call.cancelled}`); slowCancelled(); });
    },
    count(call: any) {
      log(`count ${call.request.n}`);
      for (let i = 0; i < call.request.n; i++) call.write({ i, text: `item ${i}` });
      const trailer = new grpc.Metadata();
      trailer.set('x-count', String(call.request.n));
      call.end(trailer);
    },
    sum(call: any, cb: any) {
      let total = 0;
      let n = 0;
      call.on('data', (m: { v: number }) => { total += m.v; n++; });
      call.on('end', () => { log(`sum of ${n} = ${total}`); cb(null, { total, n }); });
    },
    chat(call: any) {
      let n = 0;
      call.on('data', (m: { text: string }) => { n++; call.write({ text: `re: ${m.text}` }); });
      call.on('end', () => { log(`chat ${n} messages`); call.end(); });
    },
    shutdown(_call: any, cb: any) {
      log('shutdown');
      cb(null, {});
      setImmediate(onShutdown);
    },
  };
}

function serverCredentials(secure: boolean) {
  return secure ? grpc.ServerCredentials.createSsl(null, [{ private_key: key, cert_chain: cert }], false) : grpc.ServerCredentials.createInsecure();
}
function clientOf(port: number, secure: boolean) {
  const creds = secure ? grpc.credentials.createSsl(cert) : grpc.credentials.createInsecure();
  const options = secure ? { ...limits, 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' } : limits;
  return new Client(`127.0.0.1:${port}`, creds, options);
}

async function startServer(secure: boolean, port: number, log: (line: string) => void, slowCancelled: () => void, onShutdown: () => void): Promise<{ server: any; port: number }> {
  const server = new grpc.Server(limits);
  server.addService(service, handlers(log, slowCancelled, onShutdown));
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, serverCredentials(secure), (e: Error | null, p: number) => (e ? reject(e) : resolve(p))));
  return { server, port: bound };
}

const unary = (client: any, name: string, req: unknown, md = new grpc.Metadata(), options: object = {}) => new Promise<{ err: any; res: any; head: any; trailer: any }>((resolve) => {
  let head: any = null;
  let trailer: any = null;
  const call = client[name](req, md, options, (err: any, res: any) => setImmediate(() => resolve({ err, res, head, trailer })));
  call.on('metadata', (m: any) => { head = m; });
  call.on('status', (s: any) => { trailer = s.metadata; });
});

/** Every kind of call, in turn; resolves with the client's lines. */
async function calls(client: any, slowWasCancelled: () => Promise<void>): Promise<string[]> {
  const out: string[] = [];
  const md = new grpc.Metadata();
  md.set('x-client', 'probe-client');
  // Unary, with metadata both ways.
  const one = await unary(client, 'echo', { text: 'hello' }, md);
  out.push(`echo: ${one.res.text} head x-served-by=${one.head?.get('x-served-by')} trailer x-echoed=${one.trailer?.get('x-echoed')}`);
  // An error status with trailing metadata.
  const bad = await unary(client, 'echo', { text: 'fail' }, md);
  out.push(`echo fail: ${statusName(bad.err.code)} "${bad.err.details}" x-reason=${bad.err.metadata.get('x-reason')} x-detail-bin=${Buffer.from(bad.err.metadata.get('x-detail-bin')[0]).toString('hex')}`);
  // 4 MiB each way.
  const big = await unary(client, 'big', pattern(3, BIG));
  out.push(`big: ${big.err ? statusName(big.err.code) : `${big.res.length} ${sha(big.res)}`}`);
  // A deadline that passes while the server waits (GRPC_SLOW=0: not this call; see the top).
  if (process.env.GRPC_SLOW !== '0') {
    const late = await unary(client, 'slow', { ms: 5000 }, new grpc.Metadata(), { deadline: Date.now() + 300 });
    out.push(`slow: ${late.err ? `${statusName(late.err.code)} "${String(late.err.details).replace(/ after .*/, '')}"` : 'answered'}`);
    await slowWasCancelled();
  }
  // Server streaming.
  const items = await new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    const call = client.count({ n: 5 });
    call.on('data', (m: { i: number; text: string }) => got.push(`${m.i}:${m.text}`));
    call.on('status', (s: any) => got.push(`status ${statusName(s.code)} x-count=${s.metadata.get('x-count')}`));
    call.on('end', () => setImmediate(() => resolve(got)));
    call.on('error', reject);
  });
  out.push(`count: ${items.join(', ')}`);
  // Client streaming.
  const summed = await new Promise<any>((resolve, reject) => {
    const call = client.sum((err: any, res: any) => (err ? reject(err) : resolve(res)));
    for (let v = 1; v <= 10; v++) call.write({ v });
    call.end();
  });
  out.push(`sum: ${summed.total} of ${summed.n}`);
  // Bidi: one message, its answer, the next.
  const chat = await new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    const call = client.chat();
    const next = (): void => { if (got.length < 4) call.write({ text: `m${got.length}` }); else call.end(); };
    call.on('data', (m: { text: string }) => { got.push(m.text); next(); });
    call.on('end', () => resolve(got));
    call.on('error', reject);
    next();
  });
  out.push(`chat: ${chat.join(', ')}`);
  return out;
}

async function both(secure: boolean): Promise<void> {
  const serverLog: string[] = [];
  let cancelled!: () => void;
  const slowCancelled = new Promise<void>((resolve) => { cancelled = resolve; });
  const { server, port } = await startServer(secure, 0, (l) => serverLog.push(l), () => cancelled(), () => {});
  const client = clientOf(port, secure);
  const out = await calls(client, () => slowCancelled);
  client.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  const kind = secure ? 'tls' : 'h2c';
  for (const l of out) console.log(`${kind} client ${l}`);
  for (const l of serverLog) console.log(`${kind} server ${l}`);
}

if (role === 'both') {
  await both(false);
  await both(true);
  console.log('done');
} else if (role === 'server') {
  const secure = process.env.GRPC_TLS === '1';
  const serverLog: string[] = [];
  let server: any;
  const started = await startServer(secure, Number(process.env.GRPC_PORT ?? 0), (l) => serverLog.push(l), () => {}, () => {
    server.tryShutdown(() => {
      for (const l of serverLog) console.log(`server ${l}`);
      console.log('server done');
    });
  });
  server = started.server;
  console.log(`PORT ${started.port}`);
} else {
  const secure = process.env.GRPC_TLS === '1';
  const client = clientOf(Number(process.env.GRPC_PORT), secure);
  // The server's cancellation of the slow call is seen on its side; here a short pause stands for it.
  const out = await calls(client, () => new Promise((resolve) => setTimeout(resolve, 100)));
  await unary(client, 'shutdown', {});
  client.close();
  for (const l of out) console.log(`client ${l}`);
  console.log('client done');
}
