// Fixed-size slabs shared by every queue of the core.
//
// A queue takes slabs while it holds bytes and gives them back when it drains, so an idle
// socket holds no buffer memory. Wasm memory never shrinks: slabs are recycled through a free
// list rather than returned to the allocator.

export const SLAB: u32 = 16384;

let free: usize[] = [];
let live: u32 = 0;

/** A slab (0 would mean none: queues take what fits). */
export function allocSlab(): usize {
  if (free.length > 0) { live++; return free.pop(); }
  live++;
  return heap.alloc(SLAB);
}

export function freeSlab(p: usize): void {
  live--;
  free.push(p);
}

export function slabsInUse(): u32 { return live; }

