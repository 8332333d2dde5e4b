// The simulated network's clock and its one queue of pending events.
//
// Events are ordered by (time, a seeded tie-break, the order they were scheduled), so that
// independent events that fall on the same millisecond come in an order the seed chooses. The
// scheduler runs itself: while events are pending it handles one per `setImmediate` turn,
// letting user code's ticks and promises run between them, and it jumps the clock to the next
// event, so a 30 s timeout costs no wall time. It keeps the process alive as the handles it
// stands for would (see #keepsAlive).
import type { Rng } from './rng.js';

/** Whoever a timer wake-up serves: the wake-up keeps the process alive only while it holds a ref'd handle. */
export interface RefHolder {
  holdsRef(): boolean;
}

export interface SimEvent {
  at: number; key: number; seq: number; run: () => void; dead?: boolean;
  /** A backend's timer wake-up: it keeps the process alive only while that backend holds a ref'd handle. */
  timerOf?: RefHolder;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at !== b.at ? a.at < b.at : a.key !== b.key ? a.key < b.key : a.seq < b.seq;
}

export class Scheduler {
  /** The virtual clock, in ms. */
  now = 0;
  readonly rng: Rng;
  readonly #counts: { events: number };
  #queue: SimEvent[] = []; // a binary heap ordered by before()
  #seq = 0;
  #scheduled = false;
  #idle: (() => void)[] = [];
  #strong = 0;            // pending events other than timer wake-ups
  #timerEvents = new Set<SimEvent>();
  #immediate: NodeJS.Immediate | null = null;

  /** `counts.events` counts the events run. */
  constructor(rng: Rng, counts: { events: number }) {
    this.rng = rng;
    this.#counts = counts;
  }

  /** Schedules `run` `delay` ms from now; equal times are ordered by the seed. */
  schedule(delay: number, run: () => void, timerOf?: RefHolder): SimEvent {
    const ev: SimEvent = { at: this.now + Math.max(0, delay), key: this.rng.next(), seq: this.#seq++, run, timerOf };
    if (timerOf) this.#timerEvents.add(ev);
    else this.#strong++;
    const q = this.#queue;
    q.push(ev);
    let i = q.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (before(q[p], q[i])) break;
      [q[p], q[i]] = [q[i], q[p]];
      i = p;
    }
    this.#kick();
    return ev;
  }

  /** Drops a scheduled event: it will neither run nor move the clock. */
  cancel(ev: SimEvent): void {
    if (!ev.dead) this.#settle(ev);
    ev.dead = true;
    this.refresh();
  }

  /** An event leaves the pending set (it runs or is cancelled). */
  #settle(ev: SimEvent): void {
    if (ev.timerOf) this.#timerEvents.delete(ev);
    else this.#strong--;
  }

  /**
   * Whether the network keeps the process alive, as the handles it stands for would: while
   * traffic is pending, while someone awaits run(), and while a timer wake-up serves a backend
   * that holds a ref'd handle (an unref'ed socket's timeout does not keep Node alive).
   */
  #keepsAlive(): boolean {
    if (this.#strong > 0 || this.#idle.length > 0) return true;
    for (const ev of this.#timerEvents) if (ev.timerOf!.holdsRef()) return true;
    return false;
  }

  /** Re-reads whether the network keeps the process alive (after a ref or unref). */
  refresh(): void {
    const imm = this.#immediate;
    if (imm) {
      if (this.#keepsAlive()) imm.ref();
      else imm.unref();
    }
  }

  #pop(): SimEvent | undefined {
    const q = this.#queue;
    if (q.length === 0) return undefined;
    const top = q[0];
    const last = q.pop()!;
    if (q.length > 0) {
      q[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < q.length && before(q[l], q[m])) m = l;
        if (r < q.length && before(q[r], q[m])) m = r;
        if (m === i) break;
        [q[m], q[i]] = [q[i], q[m]];
        i = m;
      }
    }
    return top;
  }

  #kick(): void {
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#immediate = setImmediate(() => this.#step());
    }
    this.refresh();
  }

  /** Runs the next live event (moving the clock to it), or, with none left, wakes run()'s waiters. */
  #step(): void {
    this.#scheduled = false;
    this.#immediate = null;
    let ev = this.#pop();
    while (ev && ev.dead) ev = this.#pop();
    if (ev) this.#settle(ev);
    if (!ev) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const f of waiting) f();
      return;
    }
    if (ev.at > this.now) this.now = ev.at;
    this.#counts.events++;
    this.#kick();
    ev.run();
  }

  /** Resolves once no event is pending (every queued effect has happened). */
  run(): Promise<void> {
    return new Promise((resolve) => {
      this.#idle.push(resolve);
      this.#kick();
    });
  }

  get pending(): number {
    return this.#queue.length;
  }
}
