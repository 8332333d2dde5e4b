// The timer table: a binary min-heap of (deadline, handle, kind), one host wake-up for all.
//
// Entries are lazy. An owner keeps its real deadline in a `Timer` and may move it later
// without touching the heap (refreshing an idle timer on every read is O(1)); only a move to an
// earlier time pushes a new entry. When an entry comes due, `Timer.due` says whether it is the
// live entry and whether the real deadline has passed; a stale entry is dropped, an early one
// is put back at the real deadline. The host is asked for one wake-up at `timerEarliest()`.

export const TIMER_IDLE: u8 = 1;
export const TIMER_ATTEMPT: u8 = 2;
export const TIMER_USER: u8 = 3;

export class Entry {
  constructor(public deadline: f64, public handle: u32, public kind: u8) {}
}

/** One owner's timer: its real deadline and the deadline of its live heap entry. */
export class Timer {
  at: f64 = Infinity; // real deadline; Infinity = not armed
  queued: f64 = -1;   // deadline of the live heap entry, -1 = none

  arm(deadline: f64, handle: u32, kind: u8): void {
    this.at = deadline;
    if (this.queued < 0 || deadline < this.queued) {
      this.queued = deadline;
      timerPush(deadline, handle, kind);
    }
  }

  disarm(): void { this.at = Infinity; }

  armed(): bool { return this.at != Infinity; }

  /** Called with an entry popped for this owner: true when the timer fires now. */
  due(e: Entry, now: f64): bool {
    if (e.deadline != this.queued) return false; // superseded by an earlier entry
    this.queued = -1;
    if (this.at <= now) { this.at = Infinity; return true; }
    if (this.at != Infinity) { this.queued = this.at; timerPush(this.at, e.handle, e.kind); }
    return false;
  }
}

let heap: Entry[] = [];

export function timerPush(deadline: f64, handle: u32, kind: u8): void {
  heap.push(new Entry(deadline, handle, kind));
  let i = heap.length - 1;
  while (i > 0) {
    let p = (i - 1) >> 1;
    if (heap[p].deadline <= heap[i].deadline) break;
    swap(i, p);
    i = p;
  }
}

/** The earliest deadline, or -1 when there is none. */
// @ts-ignore: decorator
@inline export function timerEarliest(): f64 {
  return heap.length == 0 ? -1 : heap[0].deadline;
}

/** The earliest entry, or null (to drop it with timerPopDue when it is stale). */
// @ts-ignore: decorator
@inline export function timerPeek(): Entry | null {
  return heap.length == 0 ? null : heap[0];
}

/** Removes and returns the earliest entry if it is due at `now`, else null. */
export function timerPopDue(now: f64): Entry | null {
  if (heap.length == 0 || heap[0].deadline > now) return null;
  let top = heap[0];
  let last = heap.pop();
  if (heap.length > 0) {
    heap[0] = last;
    let i = 0;
    let n = heap.length;
    while (true) {
      let l = 2 * i + 1;
      let r = l + 1;
      let m = i;
      if (l < n && heap[l].deadline < heap[m].deadline) m = l;
      if (r < n && heap[r].deadline < heap[m].deadline) m = r;
      if (m == i) break;
      swap(i, m);
      i = m;
    }
  }
  return top;
}

export function timerCount(): i32 { return heap.length; }

function swap(i: i32, j: i32): void {
  let t = heap[i];
  heap[i] = heap[j];
  heap[j] = t;
}
