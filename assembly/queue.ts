// A byte FIFO made of pool slabs: the send queue and the receive buffer of a socket.
//
// It stores where reading starts (`head`, an offset into the first slab) and how much is
// stored (`size`); everything else is derived. Readers take the contiguous run at the head
// (`peekPtr`/`peekLen`) and `consume` it, so bytes leave the queue without an extra copy.
import { SLAB, allocSlab, freeSlab } from "./pool";
import { fill, fillAt, hostFeatures, scratch } from "./emit";
import { FEATURE_FILL_AT } from "./abi";

/** Bytes every queue of the core holds now (the stack's buffer use; limits.ts bounds it). */
let held: f64 = 0;
export function heldBytes(): f64 { return held; }

export class ByteQueue {
  slabs: usize[] = [];
  head: u32 = 0;
  size: u32 = 0;

  /** Appends up to `len` bytes from `src`, at most until `size` reaches `cap`; returns how many. */
  write(src: usize, len: u32, cap: u32): u32 {
    return this.append(src, 0, len, cap);
  }

  /**
   * Appends up to `len` bytes of the current input's payload, from offset `off` (as `write`).
   * A host with FEATURE_FILL_AT copies them straight into the slabs; otherwise it fills scratch
   * and the queue copies from there.
   */
  writePayload(off: u32, len: u32, cap: u32): u32 {
    if ((hostFeatures & FEATURE_FILL_AT) != 0) return this.append(0, off, len, cap);
    fill(scratch + off, len);
    return this.append(scratch + off, 0, len, cap);
  }

  /** `src` 0: the bytes are the payload's from offset `off`, put in place by the host (fillAt). */
  private append(src: usize, off: u32, len: u32, cap: u32): u32 {
    let room: u32 = cap > this.size ? cap - this.size : 0;
    let todo: u32 = len < room ? len : room;
    let done: u32 = 0;
    while (done < todo) {
      let end = this.head + this.size; // offset of the tail from the start of slabs[0]
      let inSlab = end % SLAB;
      if (inSlab == 0 && end / SLAB == <u32>this.slabs.length) {
        let s = allocSlab();
        if (s == 0) break; // pool limit: take what fits
        this.slabs.push(s);
      }
      let slab = this.slabs[end / SLAB];
      let n = min(SLAB - inSlab, todo - done);
      if (src != 0) memory.copy(slab + inSlab, src + done, n);
      else fillAt(slab + inSlab, off + done, n);
      done += n;
      this.size += n;
    }
    held += done;
    return done;
  }

  peekPtr(): usize { return this.size == 0 ? 0 : this.slabs[0] + this.head; }

  peekLen(): u32 { return min(this.size, SLAB - this.head); }

  /** Where the byte `at` bytes past the head is (at < size). */
  peekAt(at: u32): usize {
    let abs = this.head + at;
    return this.slabs[abs / SLAB] + abs % SLAB;
  }

  /** How many bytes from there on are contiguous. */
  peekRun(at: u32): u32 {
    return min(this.size - at, SLAB - (this.head + at) % SLAB);
  }

  /** Copies `n` bytes from the head to `dst` (n <= size) and drops them. */
  take(dst: usize, n: u32): void {
    let done: u32 = 0;
    while (done < n) {
      let run = min(n - done, this.peekLen());
      memory.copy(dst + done, this.peekPtr(), run);
      this.consume(run);
      done += run;
    }
  }

  /** Drops `n` bytes from the head (n <= size), slab by slab. */
  drop(n: u32): void {
    while (n > 0) {
      let run = min(n, this.peekLen());
      this.consume(run);
      n -= run;
    }
  }

  /** Drops `n` bytes from the head (n <= peekLen()). */
  consume(n: u32): void {
    this.head += n;
    this.size -= n;
    held -= n;
    if (this.size == 0) {
      this.clear();
    } else if (this.head == SLAB) {
      freeSlab(this.slabs.shift());
      this.head = 0;
    }
  }

  clear(): void {
    while (this.slabs.length > 0) freeSlab(this.slabs.pop());
    held -= this.size;
    this.head = 0;
    this.size = 0;
  }
}
