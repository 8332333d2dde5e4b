// Trace format 2: a real loopback session recorded (payloads once, outputs as digests) replays
// identically; a changed time or argument is noticed at its input; compression, rotation into
// segments, and a recorder that falls behind the disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStack, replay, formatDivergence, readTrace, rewriteTrace, type StackApi, type InputRecord, type RecordOptions } from '../../host/index.js';
import { checkTrace2 } from '../../host/trace/check.js';
import type { TraceRecorder2 } from '../../host/trace/recorder.js';
import { Op } from '../../host/core/abi.js';
import { sockPath, sendPattern, hashUntilEnd, patternHash } from './helpers.js';

type Sock = InstanceType<StackApi['Socket']>;
const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = join(root, 'bin/wasinet.js');
const MiB = 1024 * 1024;
const SIZE = 8 * MiB;

/** A real loopback session: SIZE each way, a half-close, an idle timeout. */
async function session(record: RecordOptions): Promise<{ inputs: number; exchanged: number; truncated: boolean }> {
  const net = createStack({ record });
  let serverGot!: Promise<{ hash: string; bytes: number }>;
  let timeouts = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s: Sock) => {
    serverGot = hashUntilEnd(s);
    s.on('end', () => {
      s.setTimeout(50, () => {
        timeouts++;
        s.setTimeout(0);
        void sendPattern(s, 32, SIZE);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const client = net.connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', allowHalfOpen: true });
  const clientGot = hashUntilEnd(client);
  const closed = new Promise((r) => client.on('close', r));
  await sendPattern(client, 31, SIZE);
  const c = await clientGot;
  const s = await serverGot;
  await closed;
  await new Promise((r) => server.close(r));
  await net.recorder!.close();
  assert.equal(s.hash, patternHash(31, SIZE));
  assert.equal(c.hash, patternHash(32, SIZE));
  assert.equal(timeouts, 1);
  // Both ends are in this process: each byte was written by one and read by the other.
  return { inputs: net.recorder!.inputs, exchanged: 4 * SIZE, truncated: net.recorder!.truncated };
}

let plain: { file: string; inputs: number; exchanged: number; truncated: boolean } | null = null;
async function recorded() {
  if (plain) return plain;
  const file = sockPath('t2').replace(/\.sock$/, '.trace');
  plain = { file, ...(await session({ path: file })) };
  return plain;
}

test('format 2: a loopback session replays identically (API and CLI); the trace is the bytes exchanged plus a few bytes per input', { timeout: 60000 }, async () => {
  const { file, inputs, exchanged } = await recorded();
  const { header, records } = readTrace(file);
  assert.equal(header.version, 2);
  const ins = records.filter((r): r is InputRecord => r.kind === 'input');
  assert.equal(ins.length, inputs);
  assert.ok(ins.some((r) => r.name === 'onEof'), 'the half-close is in the trace');
  assert.ok(ins.some((r) => r.name === 'onTimer'), 'the idle timeout is in the trace');
  assert.ok(ins.some((r) => r.depth > 0), 'nested inputs are marked');
  const last = records[records.length - 1];
  assert.equal(last.kind === 'meta' && last.type, 'end');
  const size = statSync(file).size;
  const perInput = (size - exchanged) / inputs;
  assert.ok(size <= 1.1 * exchanged + 64 * inputs, `trace ${size} B for ${exchanged} B exchanged in ${inputs} inputs`);
  assert.ok(perInput < 40, `${perInput.toFixed(1)} bytes per input beyond the payload`);
  const r = replay(file);
  assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
  assert.equal(r.inputs, inputs);
  const run = spawnSync(process.execPath, [cli, 'replay', file], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`replay identical: ${inputs} inputs`));
});

test('format 2: a changed `now` or argument is reported at its input', { timeout: 60000 }, async () => {
  const { file } = await recorded();
  const { records } = readTrace(file);
  // The onTimer that fired the idle timeout: 40 ms earlier, the timer is not due yet.
  const timers: InputRecord[] = [];
  checkTrace2(file, { onRecord: (r, outs) => { if (r.kind === 'input' && r.name === 'onTimer' && outs?.some((o) => o.op === Op.EV_TIMEOUT)) timers.push(r); } });
  assert.equal(timers.length, 1, 'found the onTimer that fired TIMEOUT');
  const timer = timers[0];
  const altered = file.replace(/\.trace$/, '-now.trace');
  await rewriteTrace(file, altered, (r) => (r.kind === 'input' && r.seq === timer.seq ? { ...r, t: r.t - 40 } : r));
  const a = replay(altered);
  assert.equal(a.ok, false);
  assert.equal(a.divergence!.record, timer.seq + 1);
  assert.equal(a.divergence!.input, 'onTimer');
  const run = spawnSync(process.execPath, [cli, 'replay', altered], { encoding: 'utf8' });
  assert.equal(run.status, 1, run.stdout);
  assert.match(run.stdout, new RegExp(`replay diverged at input #${timer.seq + 1}: input onTimer at t=`));

  const written = records.find((r): r is InputRecord => r.kind === 'input' && r.name === 'onWritten' && r.args[1] > 0)!;
  const altered2 = file.replace(/\.trace$/, '-arg.trace');
  await rewriteTrace(file, altered2, (r) => (r.kind === 'input' && r.seq === written.seq ? { ...r, args: [r.args[0], r.args[1] - 1, r.args[2]] } : r));
  const b = replay(altered2);
  assert.equal(b.ok, false);
  assert.equal(b.divergence!.record, written.seq + 1);
  assert.equal(b.divergence!.input, 'onWritten');
});

test('format 2: deflate and brotli blocks hold the same records and replay; recording with compression on replays', { timeout: 60000 }, async () => {
  const { file } = await recorded();
  const base = readTrace(file).records;
  assert.ok(base.some((r) => r.kind === 'input' && r.sameLoop), 'some turns came in one loop iteration');
  for (const compression of ['deflate', 'brotli'] as const) {
    const out = file.replace(/\.trace$/, `-${compression}.trace`);
    await rewriteTrace(file, { path: out, compression });
    const again = readTrace(out);
    assert.equal(again.header.compression, compression);
    assert.equal(again.header.loops, true); // the turns' loop iterations (sameLoop) are kept too
    assert.deepEqual(again.records, base);
    assert.equal(replay(out).ok, true);
  }
  // Recording with compression on: the same session, straight to a compressed file.
  const live = file.replace(/\.trace$/, '-live.trace');
  const { inputs } = await session({ path: live, compression: 'deflate' });
  assert.equal(readTrace(live).header.compression, 'deflate');
  const r = replay(live);
  assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
  assert.equal(r.inputs, inputs);
});

test('format 2: rotation by size makes segments FILE, FILE.1 …, replayed as one recording; keep removes the oldest', { timeout: 60000 }, async () => {
  const file = sockPath('rot').replace(/\.sock$/, '.trace');
  const { inputs } = await session({ path: file, maxBytes: 4 * MiB });
  const segs = readdirSync(dirname(file)).filter((f) => f.startsWith(basename(file)));
  assert.ok(segs.length >= 5, `segments: ${segs.join(' ')}`);
  const { records } = readTrace(file);
  assert.equal(records.filter((r) => r.kind === 'input').length, inputs);
  const r = replay(file);
  assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
  assert.equal(r.inputs, inputs);

  const kept = sockPath('keep').replace(/\.sock$/, '.trace');
  await session({ path: kept, maxBytes: 4 * MiB, keep: 3 });
  const left = readdirSync(dirname(kept)).filter((f) => f.startsWith(basename(kept)));
  assert.equal(left.length, 3, `left: ${left.join(' ')}`);
});

test('format 2: a recorder the disk cannot keep up with stops and says so; what it wrote replays', { timeout: 60000 }, async () => {
  const file = sockPath('trunc').replace(/\.sock$/, '.trace');
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  let truncated = false;
  try {
    ({ truncated } = await session({ path: file, maxPending: 1 }));
  } finally {
    process.off('warning', onWarning);
  }
  const { records } = readTrace(file);
  const last = records[records.length - 1];
  assert.equal(last.kind === 'meta' && last.type, 'truncated');
  assert.equal(truncated, true, 'recorder.truncated says so too');
  assert.equal((await recorded()).truncated, false, 'a recorder that kept up was not truncated');
  assert.ok(warnings.some((w) => w.includes('recording to') && w.includes('stopped')), warnings.join('\n'));
  const r = replay(file);
  assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
});

test('format 2: the trace reaches the disk while one long synchronous turn runs (the writer has a thread of its own)', { timeout: 60000 }, async () => {
  const file = sockPath('turn').replace(/\.sock$/, '.trace');
  // Every byte of the writes kept (writeHead: Infinity): the trace then grows as fast as the writes.
  const net = createStack({ record: { path: file, writeHead: Infinity } });
  const rec = net.recorder as unknown as TraceRecorder2;
  let received = 0;
  const server = net.createServer((s: Sock) => { s.on('data', (d: Buffer) => { received += d.length; }); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const client = net.connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1' });
  await new Promise((r) => client.once('connect', r));
  // One turn that never yields: writes until 4 MiB of trace are encoded, then waits (at most
  // 10 s) for 3 MiB of it to be on disk. A writer that needs the event loop gets none of it.
  // 8 KiB writes: batched by the core, 64 KiB a system call, so the kernel's buffers (which
  // count each write's overhead too) hold enough of them to encode 4 MiB in the turn.
  const piece = Buffer.alloc(8 * 1024, 0x5a);
  let sent = 0;
  while (rec.encodedBytes < 4 * MiB && sent < 64 * MiB) {
    client.write(piece);
    sent += piece.length;
  }
  const deadline = Date.now() + 10_000;
  while (rec.writtenBytes < 3 * MiB && Date.now() < deadline) { /* the turn goes on */ }
  const onDisk = rec.writtenBytes;
  assert.ok(rec.encodedBytes >= 4 * MiB, `${rec.encodedBytes} B encoded`);
  assert.ok(onDisk >= 3 * MiB, `${onDisk} B on disk by the end of the turn`);
  client.end();
  await new Promise((r) => client.on('close', r));
  await new Promise((r) => server.close(r));
  await rec.close();
  assert.equal(received, sent);
  assert.equal(rec.truncated, false);
  const r = replay(file);
  assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
});

test('format 2: a trace recorded before output digests 2 (CRC-32 of payloads, no `outputs` in its header) still replays, and its digests are checked as CRC-32', () => {
  // Recorded by commit 07b9173 with tests/fixtures/make-trace2-crc32.mjs: writes queued before the
  // connection and a paused reader, so payloads leave from the core's queues (hashed by content).
  const file = join(root, 'tests/fixtures/trace2-crc32.trace');
  const { header } = readTrace(file);
  assert.equal(header.outputs, undefined);
  const r = replay(file);
  assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
  assert.ok(r.inputs > 20);
  // The same file with a header that claims digests 2: its CRC-32 digests no longer match.
  const c = replay(withHeader(file, 'claimed', { outputs: 2 }));
  assert.equal(c.ok, false);
  assert.equal(c.divergence!.what, 'outputs');
});

/** A copy of the trace `file` whose header has `fields` changed. */
function withHeader(file: string, name: string, fields: Record<string, unknown>): string {
  const bytes = readFileSync(file);
  const len = bytes.readUInt32LE(12);
  const json = Buffer.from(JSON.stringify({ ...JSON.parse(bytes.subarray(16, 16 + len).toString()), ...fields }));
  const head = Buffer.alloc(16);
  bytes.copy(head, 0, 0, 16);
  head.writeUInt32LE(json.length, 12);
  const out = sockPath(name).replace(/\.sock$/, '.trace');
  writeFileSync(out, Buffer.concat([head, json, bytes.subarray(16 + len)]));
  return out;
}

test('format 2: a trace of outputs 2 (state digests byte by byte) still replays; recordings now say outputs 3 (writeHead: Infinity) or 4 and hold digestWords', async () => {
  // Recorded by commit db2a26d with tests/fixtures/make-trace2-crc32.mjs.
  const file = join(root, 'tests/fixtures/trace2-digest2.trace');
  assert.equal(readTrace(file).header.outputs, 2);
  const r = replay(file);
  assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
  assert.ok(r.inputs > 20);
  // Claimed as outputs 3, the same trace's state digests no longer match (its outputs still do).
  const c = replay(withHeader(file, 'claimed3', { outputs: 3 }));
  assert.equal(c.ok, false);
  assert.equal(c.divergence!.what, 'digest');
  // A new recording that keeps every byte written: outputs 3, and it replays.
  const fresh = sockPath('fresh3').replace(/\.sock$/, '.trace');
  const net = createStack({ record: { path: fresh, writeHead: Infinity } });
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const client = net.connect((server.address() as { port: number }).port, '127.0.0.1');
  client.end('words');
  client.resume();
  await new Promise((res) => client.on('close', res));
  await new Promise((res) => server.close(res));
  await net.recorder!.close();
  assert.equal(readTrace(fresh).header.outputs, 3);
  const f = replay(fresh);
  assert.equal(f.ok, true, f.divergence && formatDivergence(f.divergence));
  // As outputs 2 (byte-by-byte state digests) it diverges on the state digest.
  const as2 = replay(withHeader(fresh, 'fresh-as2', { outputs: 2 }));
  assert.equal(as2.ok, false);
  assert.equal(as2.divergence!.what, 'digest');
  // By default a recording keeps the heads of writes (writeHead 256): outputs 4, where a WRITE's
  // bytes count by their length alone. It replays; claimed as outputs 3, its WRITEs no longer match.
  const heads = sockPath('fresh4').replace(/\.sock$/, '.trace');
  const net4 = createStack({ record: { path: heads } });
  const server4 = net4.createServer((s) => s.pipe(s));
  await new Promise<void>((res) => server4.listen(0, '127.0.0.1', res));
  const client4 = net4.connect((server4.address() as { port: number }).port, '127.0.0.1');
  client4.end(Buffer.alloc(5000, 'w'));
  client4.resume();
  await new Promise((res) => client4.on('close', res));
  await new Promise((res) => server4.close(res));
  await net4.recorder!.close();
  const h4 = readTrace(heads);
  assert.equal(h4.header.outputs, 4);
  assert.equal(h4.header.writeHead, 256);
  assert.ok(h4.records.some((r) => r.kind === 'input' && r.name === 'apiWrite' && r.partial?.length === 5000), 'the 5,000-byte write is kept in part');
  const f4 = replay(heads);
  assert.equal(f4.ok, true, f4.divergence && formatDivergence(f4.divergence));
  const as3 = replay(withHeader(heads, 'fresh4-as3', { outputs: 3 }));
  assert.equal(as3.ok, false);
  assert.equal(as3.divergence!.what, 'outputs');
});

test('format 2: a process that exits with its recorder open still leaves every input up to the exit', { timeout: 60000 }, () => {
  const file = sockPath('open-exit').replace(/\.sock$/, '.trace');
  const index = join(root, 'build/host/index.js');
  const program = `
    import { createStack } from ${JSON.stringify(index)};
    const net = createStack({ record: ${JSON.stringify(file)} });
    const srv = net.createServer((s) => s.resume());
    srv.listen(0, '127.0.0.1', () => {
      const c = net.connect(srv.address().port, '127.0.0.1', () => {
        c.write(Buffer.alloc(100000, 1));
        c.write('the last words', () => process.exit(0)); // never closes the recorder
      });
    });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const { records } = readTrace(file);
  const inputs = records.filter((x): x is InputRecord => x.kind === 'input');
  assert.ok(inputs.some((x) => x.name === 'apiWrite' && x.payload?.toString() === 'the last words'), 'the last write is in the trace');
  assert.notEqual(records.at(-1)?.kind === 'meta' ? (records.at(-1) as { type: string }).type : '', 'end', 'not closed: no end mark');
  const again = replay(file);
  assert.equal(again.ok, true, again.divergence && formatDivergence(again.divergence));
  assert.equal(again.inputs, inputs.length);
});

/**
 * A child process that records (createStack) and writes `writes` lines on a loopback
 * connection, one per ms, then says "done" on stdout and idles; `handler` is code run for SIGTERM
 * (none: the signal's default, which ends the process).
 */
function recordingChild(file: string, writes: number, handler = ''): { program: string } {
  const index = join(root, 'build/host/index.js');
  return {
    program: `
      import { createStack } from ${JSON.stringify(index)};
      import { writeSync } from 'node:fs';
      const net = createStack({ record: ${JSON.stringify(file)} });
      ${handler}
      const srv = net.createServer((s) => s.resume());
      srv.listen(0, '127.0.0.1', () => {
        const c = net.connect(srv.address().port, '127.0.0.1', () => {
          let i = 0;
          const t = setInterval(() => {
            c.write('line ' + i + '\\n');
            if (++i === ${writes}) { clearInterval(t); writeSync(1, 'done\\n'); }
          }, 1);
        });
      });`,
  };
}

/** Runs `program` as an ES module child; resolves with its exit once `signal` was sent `afterMs` after it printed "done". */
function runAndSignal(program: string, signal: NodeJS.Signals, afterMs: number): Promise<{ code: number | null; signal: string | null; out: string }> {
  return import('node:child_process').then(({ spawn }) => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child did not finish: ${out}`)); }, 30_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      const first = !out.includes('done');
      out += d;
      if (first && out.includes('done')) setTimeout(() => child.kill(signal), afterMs);
    });
    child.on('exit', (code, sig) => { clearTimeout(guard); resolve({ code, signal: sig, out }); });
  }));
}

const linesIn = (file: string): string[] => readTrace(file).records
  .filter((x): x is InputRecord => x.kind === 'input' && x.name === 'apiWrite')
  .map((x) => x.payload!.toString());

test('format 2: SIGTERM that the application does not handle: every input up to it is in the trace, and the process still dies of the signal', { timeout: 60000 }, async () => {
  const file = sockPath('sigterm').replace(/\.sock$/, '.trace');
  const r = await runAndSignal(recordingChild(file, 40).program, 'SIGTERM', 20);
  assert.equal(r.signal, 'SIGTERM', `ended by the signal, as without a recorder (code ${r.code})`);
  assert.equal(r.code, null);
  const lines = linesIn(file);
  assert.equal(lines.length, 40);
  assert.equal(lines.at(-1), 'line 39\n');
  const again = replay(file);
  assert.equal(again.ok, true, again.divergence && formatDivergence(again.divergence));
  assert.equal(again.ending, 'open', 'not closed: no end mark');
});

test('format 2: an application that handles SIGTERM itself keeps it: the recorder neither flushes nor ends the process', { timeout: 60000 }, async () => {
  const file = sockPath('sigterm-app').replace(/\.sock$/, '.trace');
  // The application writes once more after the signal, then closes the recorder and exits 7.
  const handler = `process.on('SIGTERM', () => setTimeout(() => net.recorder.close().then(() => process.exit(7)), 50));`;
  const r = await runAndSignal(recordingChild(file, 10, handler).program, 'SIGTERM', 20);
  assert.equal(r.code, 7, `the application's handler ran to its end (signal ${r.signal})`);
  assert.equal(linesIn(file).length, 10);
  const again = replay(file);
  assert.equal(again.ok, true, again.divergence && formatDivergence(again.divergence));
  assert.equal(again.ending, 'closed');
});

test('format 2: a listener that ends the process only when it is the only one (as signal-exit does) still ends it on SIGTERM, recorder or not', { timeout: 60000 }, async () => {
  // Such a listener re-raises the signal when every listener left is its own: the recorder's
  // must not count, or each would leave the signal to the other and the process would live on.
  const polite = `function polite() {
      if (process.listeners('SIGTERM').length === 1) { process.removeListener('SIGTERM', polite); process.kill(process.pid, 'SIGTERM'); }
    }`;
  for (const when of ['before', 'after']) {
    const file = sockPath(`polite-${when}`).replace(/\.sock$/, '.trace');
    const { program } = recordingChild(file, 10, when === 'after' ? `${polite}\n process.on('SIGTERM', polite);` : '');
    const child = when === 'before' ? `${polite}\n process.on('SIGTERM', polite);\n${program}` : program;
    const r = await runAndSignal(child.replace(/^\s*import .*$/gm, '').replace(/^/, program.match(/^\s*import .*$/gm)!.join('\n') + '\n'), 'SIGTERM', 300);
    assert.equal(r.signal, 'SIGTERM', `${when}: ended by the signal (code ${r.code})`);
    assert.equal(linesIn(file).length, 10, `${when}: every write is in the trace`);
  }
});

test('format 2: SIGKILL loses at most the last flushMs: inputs encoded earlier are already in the file', { timeout: 60000 }, async () => {
  const file = sockPath('sigkill').replace(/\.sock$/, '.trace');
  // 30 small writes fill no chunk: only the timed hand-over (200 ms) puts them in the file.
  const r = await runAndSignal(recordingChild(file, 30).program, 'SIGKILL', 800);
  assert.equal(r.signal, 'SIGKILL');
  const lines = linesIn(file);
  assert.equal(lines.length, 30);
  assert.deepEqual(lines, Array.from({ length: 30 }, (_, i) => `line ${i}\n`));
  const again = replay(file);
  assert.equal(again.ok, true, again.divergence && formatDivergence(again.divergence));
  const cli0 = spawnSync(process.execPath, [cli, 'replay', file], { encoding: 'utf8' });
  assert.equal(cli0.status, 0, cli0.stderr);
  assert.match(cli0.stdout, /no end mark/);
});

test('format 2: record.writeHead is a whole number of bytes, Infinity or \'all\' (which keep every byte: no writeHead in the header, outputs 3)', async () => {
  for (const bad of [-1, 1.5, 'some', NaN]) {
    assert.throws(() => createStack({ record: { path: sockPath('badhead').replace(/\.sock$/, '.trace'), writeHead: bad as number } }),
      (e: Error) => e instanceof TypeError && /writeHead/.test(e.message));
  }
  for (const [writeHead, header, outputs] of [['all', undefined, 3], [Infinity, undefined, 3], [0, 0, 4], [undefined, 256, 4]] as const) {
    const file = sockPath('head').replace(/\.sock$/, '.trace');
    const net = createStack({ record: { path: file, writeHead } });
    await net.recorder!.close();
    const h = readTrace(file).header;
    assert.deepEqual([h.writeHead, h.outputs], [header, outputs], String(writeHead));
  }
});

test('format 2: record.flushMs must be a number of ms', () => {
  for (const bad of [-1, 'soon', NaN]) {
    assert.throws(() => createStack({ record: { path: sockPath('badflush').replace(/\.sock$/, '.trace'), flushMs: bad as number } }),
      (e: Error) => e instanceof TypeError && /flushMs/.test(e.message));
  }
});

test('format 2: a trace that cannot be written any more stops the recording with a warning; close() rejects with the error', { timeout: 60000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasinet-gone-'));
  const file = join(dir, 'gone.trace');
  const net = createStack({ record: { path: file, maxBytes: 2048, flushMs: 10 } });
  const rec = net.recorder! as TraceRecorder2;
  const warned = new Promise<Error>((resolve) => {
    const on = (w: Error): void => { if (/writing the trace failed/.test(w.message)) { process.off('warning', on); resolve(w); } };
    process.on('warning', on);
  });
  const server = net.createServer((s: Sock) => s.resume());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const c = net.connect((server.address() as { port: number }).port, '127.0.0.1');
  try {
    await new Promise((r) => c.on('connect', r));
    // The directory goes away: the file (or the next segment) cannot be opened.
    rmSync(dir, { recursive: true, force: true });
    for (let i = 0; i < 200 && rec.error === null; i++) {
      await new Promise<void>((r) => c.write(Buffer.alloc(100, i), () => r()));
      await new Promise((r) => setTimeout(r, 2));
    }
    const w = await warned;
    assert.match(w.message, /ENOENT|no such file/i);
    assert.equal((rec.error as NodeJS.ErrnoException | null)?.code, 'ENOENT');
    c.write('after the failure');
    await new Promise((r) => setTimeout(r, 20));
    const inputs = rec.inputs;
    c.write('and more');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(rec.inputs, inputs, 'nothing more is encoded');
    await assert.rejects(rec.close(), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  } finally {
    c.destroy();
    server.close();
  }
});
