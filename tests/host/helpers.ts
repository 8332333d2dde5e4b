// Shared by the end-to-end tests: temp paths, deterministic payloads, hashing, event logs.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEmitter } from 'node:events';

let dir: string | null = null;
let n = 0;

/** A fresh Unix socket path in a temp dir of this test run. */
export function sockPath(name = 's'): string {
  dir ??= mkdtempSync(join(process.env.WASINET_TEST_TMP ?? tmpdir(), 'sock-'));
  return join(dir, `${name}-${process.pid}-${n++}.sock`);
}

/** `size` bytes of a deterministic stream for `seed`, in chunks of `chunk` bytes. */
export function* pattern(seed: number, size: number, chunk = 65536): Generator<Buffer> {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let off = 0; off < size; off += chunk) {
    const n = Math.min(chunk, size - off);
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      b.writeUInt32LE(x, i <= n - 4 ? i : n - 4);
    }
    yield b;
  }
}

export function patternHash(seed: number, size: number): string {
  const h = createHash('sha256');
  for (const b of pattern(seed, size)) h.update(b);
  return h.digest('hex');
}

interface Writable { write(b: Buffer): boolean; end(): void; once(ev: string, f: () => void): unknown }

/** Writes the pattern with backpressure (waits for 'drain'), then ends. */
export async function sendPattern(w: Writable, seed: number, size: number): Promise<void> {
  for (const b of pattern(seed, size)) {
    if (!w.write(b)) await new Promise<void>((r) => w.once('drain', r));
  }
  w.end();
}

/** Hashes everything a readable gives until 'end'. */
export function hashUntilEnd(r: EventEmitter): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    r.on('data', (d: Buffer) => { h.update(d); bytes += d.length; });
    r.once('end', () => resolve({ hash: h.digest('hex'), bytes }));
    r.once('error', reject);
  });
}

/** Records the order of events on an emitter: names plus a short argument summary. */
export function eventLog(e: EventEmitter, names: string[], label = ''): string[] {
  const log: string[] = [];
  for (const name of names) {
    e.on(name, (...args: unknown[]) => {
      const summary = args.map((a) => a instanceof Error ? (a as NodeJS.ErrnoException).code ?? a.message
        : Buffer.isBuffer(a) ? `<${a.length}>` : String(a)).join(' ');
      log.push(`${label}${name}${summary ? ` ${summary}` : ''}`);
    });
  }
  return log;
}

export function closed(e: EventEmitter): Promise<unknown[]> {
  return new Promise((resolve) => e.once('close', (...a: unknown[]) => resolve(a)));
}
