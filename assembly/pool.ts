// Fixed-size slabs shared by every queue of the core.
//
// A queue takes slabs while it holds bytes and gives them back when it drains, so an idle
// socket holds no buffer memory. Wasm memory never shrinks: slabs are recycled through a free
// list rather than returned to the allocator, and the optional `limit` (in slabs) bounds how
// much linear memory the queues can ever claim.

export const SLAB: u32 = 16384;

let free: usize[] = [];
let live: u32 = 0;
let limit: u32 = 0; // 0 = unlimited

/** A slab, or 0 when the pool is at its limit. */
export function allocSlab(): usize {
  if (free.length > 0) { live++; return free.pop(); }
  if (limit != 0 && live >= limit) return 0;
  live++;
  return heap.alloc(SLAB);
}

export function freeSlab(p: usize): void {
  live--;
  free.push(p);
}

export function slabsInUse(): u32 { return live; }
export function slabsAllocated(): u32 { return live + <u32>free.length; }
export function setSlabLimit(n: u32): void { limit = n; }
