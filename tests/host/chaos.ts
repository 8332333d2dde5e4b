// A transport for the write-feed property test (writefeed.test.ts): client sockets only, whose
// "peer" is the backend itself. It confirms writes at once, later or in parts, at random.
import assert from 'node:assert/strict';
import { createStack, type StackApi } from '../../host/index.js';
import type { Backend, LookupCallback, LookupOptions } from '../../host/backend/backend.js';
import type { Core, Output } from '../../host/core/core.js';
import { Op } from '../../host/core/abi.js';

/** xorshift32: the test's only source of randomness, so a seed reproduces a run. */
export function rng(seed: number): (n: number) => number {
  let x = (seed * 2654435761) >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % n;
  };
}

/**
 * A transport for client sockets only, whose "peer" is this object: it keeps every byte of
 * every WRITE in order. Each WRITE is confirmed in full at once, later, or in parts (some now,
 * the rest later); the credit it reports is what is left of a random window.
 */
export class ChaosBackend implements Backend {
  readonly kind = 'chaos';
  received: Buffer[] = [];
  receivedBytes = 0;
  ended = false;
  sync = 0; async = 0; partial = 0;
  #core!: Core;
  #outstanding = 0;
  #pending = 0; // async confirmations not yet run
  #clock = 0;
  readonly #rand: (n: number) => number;
  readonly window: number;

  constructor(seed: number) {
    this.#rand = rng(seed);
    this.window = [1, 7, 4096, 65536, 1 << 20][this.#rand(5)];
  }

  now(): number { return this.#clock++; }
  attach(core: Core): void { this.#core = core; }
  lookup(_host: unknown, _o: LookupOptions, cb: LookupCallback): void { cb(null, '127.0.0.1', 4); }
  abandon(): void {}
  fdOf(): number { return -1; }
  handleObject(): object | null { return null; }
  adoptHandle(): number { return -1; }

  #credit(): number { return Math.max(0, this.window - this.#outstanding); }

  #later(fn: () => void): void {
    this.#pending++;
    const run = () => { this.#pending--; fn(); };
    if (this.#rand(2) === 0) setImmediate(run);
    else queueMicrotask(run);
  }

  get idle(): boolean { return this.#pending === 0; }

  exec(o: Output): void {
    const core = this.#core;
    switch (o.op) {
      case Op.CMD_CONNECT:
        this.#later(() => core.onConnect(o.h, 0, 0, this.#credit(), 40000, 80, 4, '127.0.0.1', '127.0.0.1'));
        return;
      case Op.CMD_WRITE: {
        const n = o.data!.length;
        this.received.push(Buffer.from(o.data!)); // the core's buffer goes back to its pool
        this.receivedBytes += n;
        core.release(o.data!);
        this.#outstanding += n;
        const how = this.#rand(3);
        if (how === 0) {
          this.sync++;
          this.#outstanding -= n;
          core.onWritten(o.h, n, this.#credit());
        } else if (how === 1) {
          this.async++;
          core.onWritten(o.h, 0, this.#credit());
          this.#later(() => { this.#outstanding -= n; core.onWritten(o.h, n, this.#credit()); });
        } else {
          this.partial++;
          const now = this.#rand(n + 1);
          this.#outstanding -= now;
          core.onWritten(o.h, now, this.#credit());
          this.#later(() => { this.#outstanding -= n - now; core.onWritten(o.h, n - now, this.#credit()); });
        }
        return;
      }
      case Op.CMD_SHUTDOWN:
        this.ended = true;
        this.#later(() => core.onShutdown(o.h, 0));
        return;
      case Op.CMD_CLOSE:
        this.#later(() => core.onClosed(o.h));
        return;
      default:
        return; // reads, options, refs, timers: nothing to do for a peer that only receives
    }
  }
}

/** Runs one seed: random writes on one socket, then checks what the transport received. */
export async function runSeed(seed: number): Promise<ChaosBackend> {
  const rand = rng(seed ^ 0x5bd1e995);
  const backend = new ChaosBackend(seed);
  const net: StackApi = createStack({ backend });
  const sock = net.connect(80, '127.0.0.1');
  const expected: Buffer[] = [];
  const sizes = [0, 1, 2, 100, 4095, 4096, 16384, 65535, 65536, 65537, 200000, 262144, 262145, 700000];
  const writes = 1 + rand(40);
  // A tiny window moves a byte or a few per WRITE: keep those runs small.
  let budget = ({ 1: 3000, 7: 20000, 4096: 256 << 10, 65536: 2 << 20 } as Record<number, number>)[backend.window] ?? 4 << 20;
  let drains = 0;
  await new Promise<void>((resolve) => sock.once('connect', resolve));
  for (let i = 0; i < writes; i++) {
    const size = Math.min(budget, sizes[rand(sizes.length)] + rand(3));
    budget -= size;
    const payload = Buffer.alloc(size);
    for (let j = 0; j < size; j++) payload[j] = (i * 31 + j * 7 + seed) & 255;
    expected.push(payload);
    const kind = rand(4);
    let more: boolean;
    if (kind === 0) {
      more = sock.write(payload.toString('latin1'), 'latin1');
    } else if (kind === 1) {
      // Several chunks handed over at once (writev), with the stream corked.
      sock.cork();
      const cut = rand(size + 1);
      sock.write(payload.subarray(0, cut));
      more = sock.write(payload.subarray(cut));
      process.nextTick(() => sock.uncork());
    } else {
      more = sock.write(payload);
    }
    if (!more && rand(2) === 0) {
      await new Promise<void>((resolve) => sock.once('drain', resolve));
      drains++;
    }
  }
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.end(resolve);
  });
  sock.destroy();
  const want = Buffer.concat(expected);
  const got = Buffer.concat(backend.received);
  assert.equal(got.length, want.length, `seed ${seed}: ${got.length} bytes received, ${want.length} written`);
  assert.ok(got.equals(want), `seed ${seed}: bytes differ at ${got.findIndex((b, i) => b !== want[i])}`);
  assert.equal(backend.ended, true, `seed ${seed}: no FIN after the last byte`);
  assert.equal(sock.bytesWritten, want.length, `seed ${seed}: bytesWritten`);
  void drains;
  return backend;
}

