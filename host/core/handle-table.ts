// A table from the core's handle numbers to the host's objects for them (a stack's sockets and
// servers, a backend's OS handles): what a Map<number, T> would be, without a Map's garbage.
//
// Handles are never reused (the core counts them up), so a Map of the live ones is rebuilt over
// and over: every few dozen connections its hash table is full of deleted entries and V8 makes a
// new one. A replaced table the collector had already moved to the old generation keeps every
// object its slots still name alive through each young-generation collection, which then copies
// them to the old generation too, where they keep more alive: with connections opened and
// closed at a high rate, each scavenge copied 1.4–2.3 MB (node:net: 0.5) and took twice as long,
// about 3 µs of every connection (docs/design.md, "Handles and listeners").
//
// This table is two arrays written in place: open addressing on the handle's low bits (handles
// are consecutive, so they spread evenly) and linear probing. A deleted entry leaves a tombstone,
// so a deletion costs the same however long the run of live handles around it is (a server's
// thousands of connections opened in a row make one such run). Once live entries and tombstones
// fill three quarters of the slots, the entries move to fresh arrays (twice as large when half or
// more are live) and the old arrays are emptied, so nothing they named is kept alive by them.
// (Consecutive handles sit in their own slots, so a fuller table costs lookups little.)

/** A slot whose entry was deleted (handles stay below it). */
const TOMB = 0xffffffff;

export class HandleTable<T> {
  #keys = new Uint32Array(64);
  #values: (T | undefined)[] = new Array<T | undefined>(64).fill(undefined);
  #size = 0;
  /** Slots not empty: live entries and tombstones. */
  #used = 0;

  get size(): number {
    return this.#size;
  }

  /** The slot holding handle `h`, or -1. */
  #find(h: number): number {
    const keys = this.#keys;
    const mask = keys.length - 1;
    let i = h & mask;
    for (;;) {
      const k = keys[i];
      if (k === h) return i;
      if (k === 0) return -1;
      i = (i + 1) & mask;
    }
  }

  get(h: number): T | undefined {
    const i = this.#find(h);
    return i < 0 ? undefined : this.#values[i];
  }

  has(h: number): boolean {
    return this.#find(h) >= 0;
  }

  set(h: number, value: T): void {
    if (!(h > 0 && h < TOMB && Number.isInteger(h))) throw new RangeError(`HandleTable: not a handle: ${h}`);
    const found = this.#find(h);
    if (found >= 0) {
      this.#values[found] = value;
      return;
    }
    if ((this.#used + 1) * 4 > this.#keys.length * 3) this.#rebuild();
    const keys = this.#keys;
    const mask = keys.length - 1;
    let i = h & mask;
    while (keys[i] !== 0 && keys[i] !== TOMB) i = (i + 1) & mask;
    if (keys[i] === 0) this.#used++;
    keys[i] = h;
    this.#values[i] = value;
    this.#size++;
  }

  delete(h: number): boolean {
    const i = this.#find(h);
    if (i < 0) return false;
    this.#keys[i] = TOMB;
    this.#values[i] = undefined;
    this.#size--;
    return true;
  }

  /** The handles, in order (as a Map filled in handle order would give them). */
  keys(): number[] {
    return this.#entries().map((e) => e[0]);
  }

  /** The values in handle order. */
  values(): T[] {
    return this.#entries().map((e) => e[1]);
  }

  #entries(): [number, T][] {
    const entries: [number, T][] = [];
    const keys = this.#keys;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== 0 && keys[i] !== TOMB) entries.push([keys[i], this.#values[i] as T]);
    }
    return entries.sort((a, b) => a[0] - b[0]);
  }

  clear(): void {
    this.#keys.fill(0);
    this.#values.fill(undefined);
    this.#size = 0;
    this.#used = 0;
  }

  /** Moves the live entries to fresh arrays, without tombstones (twice as large when half or more are live). */
  #rebuild(): void {
    const oldKeys = this.#keys;
    const oldValues = this.#values;
    const n = this.#size * 2 >= oldKeys.length ? oldKeys.length * 2 : oldKeys.length;
    const keys = new Uint32Array(n);
    const values = new Array<T | undefined>(n).fill(undefined);
    const mask = n - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const h = oldKeys[i];
      if (h === 0 || h === TOMB) continue;
      let j = h & mask;
      while (keys[j] !== 0) j = (j + 1) & mask;
      keys[j] = h;
      values[j] = oldValues[i];
    }
    oldValues.fill(undefined); // an old array the collector promoted must not keep them alive
    this.#keys = keys;
    this.#values = values;
    this.#used = this.#size;
  }
}
