// The byte queue (send queue, receive buffer) and the slab pool under it.
import { ByteQueue } from "../../assembly/queue";
import { SLAB, slabsInUse } from "../../assembly/pool";

function fill(n: u32, seed: u8): usize {
  let p = heap.alloc(n);
  for (let i: u32 = 0; i < n; i++) store<u8>(p + i, <u8>(seed + i * 7));
  return p;
}

/** Drains the queue into a fresh buffer, run by run, as the core hands bytes out. */
function drain(q: ByteQueue): Uint8Array {
  let out = new Uint8Array(q.size);
  let o = 0;
  while (q.size > 0) {
    let n = q.peekLen();
    memory.copy(out.dataStart + o, q.peekPtr(), n);
    q.consume(n);
    o += n;
  }
  return out;
}

describe("ByteQueue", () => {
  it("an empty queue holds no slab", () => {
    let before = slabsInUse();
    let q = new ByteQueue();
    expect(q.size).toBe(0);
    expect(q.peekLen()).toBe(0);
    expect(slabsInUse()).toBe(before);
  });

  it("keeps bytes in order across slab boundaries", () => {
    let n: u32 = SLAB * 2 + 123;
    let src = fill(n, 3);
    let q = new ByteQueue();
    expect(q.write(src, n, 1 << 20)).toBe(n);
    expect(q.size).toBe(n);
    expect(q.peekLen()).toBe(SLAB);
    let out = drain(q);
    let same = true;
    for (let i: u32 = 0; i < n; i++) if (out[i] != load<u8>(src + i)) same = false;
    expect(same).toBe(true);
  });

  it("takes no more than its cap and says how much it took", () => {
    let q = new ByteQueue();
    let src = fill(1000, 1);
    expect(q.write(src, 1000, 600)).toBe(600);
    expect(q.write(src, 1000, 600)).toBe(0);
    q.consume(100);
    expect(q.write(src + 600, 400, 600)).toBe(100);
    expect(q.size).toBe(600);
    q.clear();
  });

  it("gives every slab back to the pool when drained", () => {
    let before = slabsInUse();
    let q = new ByteQueue();
    let src = fill(SLAB * 3, 9);
    q.write(src, SLAB * 3, SLAB * 4);
    expect(slabsInUse()).toBe(before + 3);
    drain(q);
    expect(slabsInUse()).toBe(before);
  });

  it("wraps: interleaved writes and partial consumes keep the byte order", () => {
    // Byte k of the stream is k % 251; every byte read back must be the next one expected.
    let q = new ByteQueue();
    let chunk = heap.alloc(4096);
    let written: u32 = 0;
    let read: u32 = 0;
    let mismatches = 0;
    for (let round: u32 = 0; round < 400; round++) {
      let len: u32 = (round * 613) % 4096;
      for (let i: u32 = 0; i < len; i++) store<u8>(chunk + i, <u8>((written + i) % 251));
      written += q.write(chunk, len, SLAB * 2 + 77);
      let take = min(q.peekLen(), (round * 389) % 5000);
      for (let i: u32 = 0; i < take; i++) {
        if (load<u8>(q.peekPtr() + i) != <u8>((read + i) % 251)) mismatches++;
      }
      q.consume(take);
      read += take;
    }
    expect(written).toBeGreaterThan(100000);
    expect(read + q.size).toBe(written);
    expect(mismatches).toBe(0);
    q.clear();
    expect(q.size).toBe(0);
  });
});
