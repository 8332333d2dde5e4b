// The application's randomness in a recording (host/trace/random.ts): an unmodified program whose
// writes carry random values — mqtt.js's client id and message ids (Math.random), ws's handshake
// key and frame masks (crypto) — is recorded with WASINET_RECORD and replays offline, drawing the
// recorded values again; the crypto functions keep Node's errors while replaced; a replay whose
// draws differ from the recording says so; a second recording goes without.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import crypto from 'node:crypto';
import { createStack, formatAppDivergence, readTrace, rewriteTrace, type InputRecord, type MetaRecord } from '../../host/index.js';
import { randomHeaderFor, recordRandom, replayRandom, seededRandom, randomFree, type RandomDraw } from '../../host/trace/random.js';
import { replayClock, CLOCK_DRIFT } from '../../host/trace/clock.js';
import { sockPath } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const mqttApp = join(root, 'build/tests/host/apps/mqtt-app.js');
const wsApp = join(root, 'build/tests/host/apps/ws-app.js');

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: r.stdout.trim() ? JSON.parse(r.stdout.trim().split('\n').pop()!) : null };
}

const traceFile = (name: string): string => sockPath(name).replace(/\.sock$/, '.trace');
const inputsOf = (file: string) => readTrace(file).records.filter((x): x is InputRecord => x.kind === 'input');
const drawsOf = (file: string) => readTrace(file).records.filter((x): x is MetaRecord => x.kind === 'meta' && x.type === 'random');

test('an unmodified mqtt.js program (random client id, random first message id) recorded with WASINET_RECORD replays offline; recorded without its randomness it does not', () => {
  const file = traceFile('mqtt-defaults');
  const r = run(['--import', 'wasinet/register', mqttApp], { WASINET_RECORD: file, MQTT_DEFAULTS: '1' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.out.got, ['hello 0', 'hello 1', 'hello 2']);
  const { header } = readTrace(file);
  assert.equal(header.random?.seed.length, 4, 'the header has Math.random\'s seed');
  const connect = inputsOf(file).find((x) => x.name === 'apiWrite' && x.payload?.[0] === 0x10);
  assert.match(connect?.payload?.toString('latin1') ?? '', /mqttjs_[0-9a-f]{8}/, 'the CONNECT carries mqtt.js\'s random client id');
  for (let i = 0; i < 2; i++) {
    const again = run(['--import', 'wasinet/register', mqttApp], { WASINET_REPLAY: file, MQTT_DEFAULTS: '1' });
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(again.out, r.out);
    assert.match(again.stderr, new RegExp(`followed the recording \\(${inputsOf(file).length} inputs\\)`));
  }

  const without = traceFile('mqtt-no-random');
  const r2 = run(['--import', 'wasinet/register', mqttApp], { WASINET_RECORD: without, MQTT_DEFAULTS: '1', WASINET_RECORD_OPTIONS: '{"random":false}' });
  assert.equal(r2.status, 0, r2.stderr);
  assert.equal(readTrace(without).header.random, undefined);
  const diverged = run(['--import', 'wasinet/register', mqttApp], { WASINET_REPLAY: without, MQTT_DEFAULTS: '1' });
  assert.equal(diverged.status, 1, diverged.stderr);
  assert.match(diverged.stderr, /replay diverged at input \d+ .*: different call[\s\S]*bytes differ from byte/);
});

test('a ws client and server (handshake key, frame masks) and messages of Math.random, randomUUID, randomInt, getRandomValues and async randomBytes replay with the recorded values', () => {
  const file = traceFile('ws-random');
  const r = run(['--import', 'wasinet/register', wsApp], { WASINET_RECORD: file });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.out.echoed.length, 7);
  const fns = new Set(drawsOf(file).map((d) => d.data.f));
  for (const f of ['randomBytes', 'randomFillSync', 'randomUUID', 'randomInt', 'getRandomValues']) assert.ok(fns.has(f), `a ${f} draw is in the trace (${[...fns]})`);
  const core = spawnSync(process.execPath, [join(root, 'bin/wasinet.js'), 'replay', file], { encoding: 'utf8' });
  assert.equal(core.status, 0, core.stdout + core.stderr);
  assert.match(core.stdout, /replay identical/);
  for (let i = 0; i < 2; i++) {
    const again = run(['--import', 'wasinet/register', wsApp], { WASINET_REPLAY: file });
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /randomness differently/);
    assert.deepEqual(again.out, r.out, 'every random value the program drew came out as recorded');
  }
});

test('recording and replaying draws: every random function, synchronous and asynchronous, the ES module names too; Math.random from the seed, given back at stop()', async () => {
  const esm = await import('node:crypto');
  const draws: RandomDraw[] = [];
  const realRandom = Math.random;
  const drawAll = async (): Promise<unknown[]> => {
    const out: unknown[] = [Math.random(), Math.random()];
    out.push(crypto.randomBytes(8).toString('hex'));
    out.push(await new Promise((res, rej) => crypto.randomBytes(5, (e, b) => (e ? rej(e) : res(b.toString('hex'))))));
    const u32 = new Uint32Array(4);
    crypto.randomFillSync(u32, 1, 2); // elements 1 and 2
    out.push([...u32]);
    const b = Buffer.alloc(10);
    out.push(await new Promise((res, rej) => crypto.randomFill(b, 3, 4, (e) => (e ? rej(e) : res(b.toString('hex'))))));
    out.push(crypto.randomInt(1_000_000), await new Promise((res) => crypto.randomInt(10, 1_000_000, (_e, n) => res(n))));
    out.push(crypto.randomUUID(), globalThis.crypto.randomUUID());
    out.push([...crypto.getRandomValues(new Uint8Array(6))], [...globalThis.crypto.getRandomValues(new Uint16Array(3))]);
    out.push(esm.randomBytes(4).toString('hex'), esm.randomUUID());
    return out;
  };
  const rec = recordRandom(randomHeaderFor(true)!, (d) => draws.push(d));
  assert.notEqual(Math.random, realRandom);
  const recorded = await drawAll();
  rec.stop();
  assert.equal(Math.random, realRandom, 'stop() gives Math.random back');
  assert.equal(draws.length, 12);
  assert.deepEqual([(recorded[4] as number[])[0], (recorded[4] as number[])[3]], [0, 0], 'randomFillSync filled only the elements asked for');
  assert.match(recorded[5] as string, /^000000[0-9a-f]{8}000000$/, 'randomFill too');
  // Math.random is the seeded generator.
  const gen = seededRandom(rec.header.seed);
  assert.deepEqual(recorded.slice(0, 2), [gen(), gen()]);

  const byIndex = new Map(draws.map((d) => [d.i, d]));
  const mismatches: string[] = [];
  const rep = replayRandom(rec.header, byIndex, (w) => mismatches.push(w));
  const replayed = await drawAll();
  rep.stop();
  assert.deepEqual(mismatches, []);
  assert.deepEqual(replayed, recorded);
  // Without a session the functions are the system's again.
  assert.notEqual(crypto.randomBytes(16).toString('hex'), crypto.randomBytes(16).toString('hex'));
});

test('with the functions replaced, bad arguments get Node\'s own errors', () => {
  const cases: [string, () => unknown][] = [
    ['randomBytes(string)', () => crypto.randomBytes('x' as unknown as number)],
    ['randomBytes(-1)', () => crypto.randomBytes(-1)],
    ['randomBytes(1, not a function)', () => crypto.randomBytes(1, 'x' as never)],
    ['randomFillSync(string)', () => crypto.randomFillSync('x' as never)],
    ['randomFillSync(offset past the end)', () => crypto.randomFillSync(Buffer.alloc(4), 5)],
    ['randomFill without a callback', () => crypto.randomFill(Buffer.alloc(4) as never, undefined as never)],
    ['randomInt(5, 1)', () => crypto.randomInt(5, 1)],
    ['randomUUID({ disableEntropyCache: 1 })', () => crypto.randomUUID({ disableEntropyCache: 1 as never })],
    ['getRandomValues on another receiver', () => globalThis.crypto.getRandomValues.call({}, new Uint8Array(4))],
    ['getRandomValues(Float64Array)', () => globalThis.crypto.getRandomValues(new Float64Array(2) as never)],
  ];
  const errorOf = (f: () => unknown) => {
    try { f(); return null; } catch (e) { return { name: (e as Error).constructor.name, code: (e as { code?: string }).code, message: (e as Error).message }; }
  };
  const before = cases.map(([, f]) => errorOf(f));
  for (const e of before) assert.notEqual(e, null);
  const rec = recordRandom(randomHeaderFor(true)!, () => {});
  try {
    cases.forEach(([what, f], i) => assert.deepEqual(errorOf(f), before[i], what));
  } finally {
    rec.stop();
  }
});

test('a replay whose draws differ from the recording\'s keeps the system\'s values and says so once', () => {
  const draws = new Map<number, RandomDraw>([[0, { i: 0, f: 'randomUUID', v: 'not-this-one' }]]);
  const told: string[] = [];
  const rep = replayRandom({ seed: [1, 2, 3, 4], crypto: true }, draws, (w) => told.push(w));
  try {
    const b = crypto.randomBytes(16);
    crypto.randomBytes(16);
    assert.equal(b.length, 16);
    assert.equal(told.length, 1);
    assert.match(told[0], /draw 1 was randomUUID in the recording and is randomBytes\(16 bytes\) now/);
  } finally {
    rep.stop();
  }
});

test('createStack({ record }): one recording has the randomness, a second goes without; random: \'math\' keeps crypto out; a rewritten trace keeps it', async () => {
  const a = traceFile('rand-a');
  const b = traceFile('rand-b');
  const first = createStack({ record: a });
  const second = createStack({ record: b });
  crypto.randomBytes(4);
  const read = Date.now();
  await first.recorder!.close();
  await second.recorder!.close();
  assert.equal(readTrace(a).header.random?.crypto, true);
  assert.equal(drawsOf(a).length, 1, JSON.stringify(drawsOf(a)));
  assert.equal(readTrace(b).header.random, undefined);
  assert.equal(drawsOf(b).length, 0);
  assert.ok(randomFree(), 'closing the recording gave the randomness back');

  const c = traceFile('rand-c');
  const third = createStack({ record: { path: c, random: 'math' } });
  crypto.randomBytes(4);
  Math.random();
  await third.recorder!.close();
  assert.equal(readTrace(c).header.random?.crypto, false);
  assert.equal(drawsOf(c).length, 0);
  assert.throws(() => createStack({ record: { path: traceFile('rand-d'), random: 'yes' as never } }), TypeError);

  const copy = traceFile('rand-copy');
  await rewriteTrace(a, copy);
  assert.deepEqual(readTrace(copy).header.random, readTrace(a).header.random);
  assert.deepEqual(drawsOf(copy), drawsOf(a));
  const readsOf = (f: string) => readTrace(f).records.filter((x): x is MetaRecord => x.kind === 'meta' && x.type === 'clock').map((x) => x.data);
  assert.deepEqual(readsOf(a), [{ s: 0, k: 0, v: read }], 'the clock reading, where it was made');
  assert.deepEqual(readsOf(copy), readsOf(a));
  assert.equal(readsOf(b).length, 0, 'the second recording does not have the clock either');
});

test('a TLS session over a recorded socket: the replay stops at its first handshake record and says that OpenSSL\'s randomness is not replayed', async () => {
  const tls = await import('node:tls');
  const { tlsFixture } = await import('./consumers/util.js');
  const { formatAppDivergence } = await import('../../host/index.js');
  const app = async (net: ReturnType<typeof createStack>): Promise<string> => {
    const server = net.createServer((s) => {
      const t = new tls.TLSSocket(s, { isServer: true, key: tlsFixture.key, cert: tlsFixture.cert });
      t.on('data', (d) => t.end(`echo ${d}`));
      t.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const socket = net.connect((server.address() as { port: number }).port, '127.0.0.1');
    const c = tls.connect({ socket, rejectUnauthorized: false, servername: 'localhost' });
    c.on('error', () => {});
    c.on('secureConnect', () => c.write('hi'));
    let got = '';
    c.on('data', (d) => { got += d; });
    await new Promise((r) => c.on('close', r));
    server.close();
    return got;
  };
  const path = traceFile('tls');
  const rec = createStack({ record: path });
  assert.equal(await app(rec), 'echo hi');
  await rec.recorder!.close();
  const net = createStack({ replay: { path, wait: 300, onDivergence: () => {} } });
  void app(net).catch(() => {});
  const done = await net.replay!.done;
  assert.equal(done.ok, false);
  const text = formatAppDivergence(done.divergence!);
  assert.match(text, /recorded: apiWrite h=\d+ \d+ B \(last\) 160301/);
  assert.match(text, /note: a TLS handshake record: TLS draws its randomness inside OpenSSL/);
});

test('an unmodified nodemailer program sending to an smtp-server, replayed a while after it was recorded: the message\'s Date (new Date()), Message-ID and boundary come out as recorded', async () => {
  const mailApp = join(root, 'build/tests/host/apps/mail-app.js');
  const file = traceFile('mail');
  const r = run(['--import', 'wasinet/register', mailApp], { WASINET_RECORD: file });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.out.message, /Message-ID: <[^>]+>/);
  assert.ok(readTrace(file).header.clock, 'the header notes the wall clock');
  // Replayed in another second than it was recorded.
  await new Promise((res) => setTimeout(res, 1100));
  const again = run(['--import', 'wasinet/register', mailApp], { WASINET_REPLAY: file });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /followed the recording/);
  assert.deepEqual(again.out, r.out);
  assert.notEqual(new Date(again.out.date).getTime(), Math.floor(Date.now() / 1000) * 1000, 'the program saw the recorded date, not today\'s');
});

test('the replayed clock: Date.now(), new Date(), Date() and a subclass tell the replay\'s time; instanceof, Date.UTC, Date.parse and util.types.isDate hold; stop() gives the real Date back', async () => {
  const { replayClock } = await import('../../host/trace/clock.js');
  const { types } = await import('node:util');
  const Real = Object.getPrototypeOf(Date.prototype) === Object.prototype ? Date.prototype.constructor : Date;
  const at = Date.UTC(2001, 0, 2, 3, 4, 5, 678);
  const clock = replayClock(() => at);
  try {
    assert.notEqual(globalThis.Date, Real);
    assert.equal(Date.now(), at);
    const d = new Date();
    assert.equal(d.getTime(), at);
    assert.equal(new Date(0).getTime(), 0);
    assert.equal(new Date(2001, 0).getFullYear(), 2001);
    assert.match(Date(), /^Tue Jan 02 2001/);
    assert.ok(d instanceof Date && d instanceof Real && types.isDate(d));
    assert.equal(d.constructor, Date);
    assert.equal(Date.UTC(2000, 0), 946684800000);
    assert.equal(Date.parse('2000-01-01T00:00:00Z'), 946684800000);
    class Stamp extends Date {}
    assert.equal(new Stamp().getTime(), at);
    assert.ok(new Stamp() instanceof Stamp);
    assert.equal(Object.prototype.toString.call(d), '[object Date]');
  } finally {
    clock.stop();
  }
  // The runtime's own Date again (an earlier test's replay may have had it: this one took over).
  assert.match(Function.prototype.toString.call(globalThis.Date), /\[native code\]/);
  assert.equal(new Date().constructor, globalThis.Date);
  assert.ok(Math.abs(Date.now() - performance.timeOrigin - performance.now()) < 1000);
});

test('a program that writes Date.now() in milliseconds and new Date() replays with the values it read when recorded; recorded with clock: false it does not', async () => {
  const app = async (net: ReturnType<typeof createStack>): Promise<string> => {
    const server = net.createServer((s) => {
      let n = 0;
      s.on('data', () => { if (++n < 3) s.write(`tick ${Date.now()}`); else s.end(); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const c = net.connect((server.address() as { port: number }).port, '127.0.0.1', () => c.write(`hello ${new Date().toISOString()} ${Date()}`));
    let got = '';
    c.on('data', (d) => { got += d; c.write(`at ${Date.now()}`); });
    await new Promise((r) => c.on('close', r));
    server.close();
    return got;
  };
  const path = traceFile('clock-ms');
  const rec = createStack({ record: path });
  const recorded = await app(rec);
  await rec.recorder!.close();
  assert.ok(readTrace(path).records.some((x) => x.kind === 'meta' && x.type === 'clock'), 'the readings are in the trace');
  await new Promise((r) => setTimeout(r, 20));
  const net = createStack({ replay: { path, wait: 500 } });
  const replayed = await app(net);
  const done = await net.replay!.done;
  assert.ok(done.ok, done.divergence ? formatAppDivergence(done.divergence) : '');
  assert.equal(replayed, recorded);

  const without = traceFile('clock-off');
  const rec2 = createStack({ record: { path: without, clock: false } });
  await app(rec2);
  await rec2.recorder!.close();
  await new Promise((r) => setTimeout(r, 20));
  const net2 = createStack({ replay: { path: without, wait: 300, onDivergence: () => {} } });
  void app(net2).catch(() => {});
  const done2 = await net2.replay!.done;
  assert.equal(done2.ok, false);
  assert.equal(done2.divergence?.reason, 'different call');
});

test('the replayed clock: a reading made a few inputs from where it was recorded (a timer that fired before the transport\'s events) gets the next recorded value; one far away or past the recording is derived; exact places still win', () => {
  // Recorded: a reading at input 0, one at input 5 (the timer's), two at input 9.
  const reads = [{ s: 0, k: 0, v: 1000 }, { s: 5, k: 0, v: 2000 }, { s: 9, k: 0, v: 3000 }, { s: 9, k: 1, v: 3001 }];
  let at = 0;
  const clock = replayClock(() => 99_999, reads, () => at);
  try {
    const seen: number[] = [];
    at = 0; seen.push(Date.now());          // exact: 1000
    at = 3; seen.push(Date.now());          // the timer's, 2 inputs early: the next recorded, 2000
    at = 9; seen.push(Date.now(), Date.now()); // exact: 3000, 3001
    seen.push(Date.now());                  // one more than the recording had: derived
    assert.deepEqual(seen, [1000, 2000, 3000, 3001, 99_999]);
  } finally {
    clock.stop();
  }
  // A reading far (more than CLOCK_DRIFT inputs) from the next recorded one is derived.
  const far = replayClock(() => 5, [{ s: 500, k: 0, v: 1000 }], () => 500 - CLOCK_DRIFT - 1);
  try {
    assert.equal(Date.now(), 5);
  } finally {
    far.stop();
  }
  assert.ok(Date.now() > 1_700_000_000_000, 'the real clock is back');
});
