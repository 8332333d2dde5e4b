// Node's Socket and Server accessors read through `this` and answer on any object: read on the
// prototype itself (as libraries that inspect classes do) they give `undefined` or a default.
// wasinet's read private fields, which throw on anything but an instance; this makes each of
// them answer like Node's on the prototype.

/** Wraps every getter of `proto`: on objects without the class's fields it returns `onOther[key]`. */
export function guardAccessors(proto: object, isInstance: (o: object) => boolean, onOther: Record<string, unknown>): void {
  for (const key of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, key)!;
    const get = d.get;
    if (!get) continue;
    Object.defineProperty(proto, key, {
      ...d,
      get(this: object) { return isInstance(this) ? get.call(this) : onOther[key]; },
    });
  }
}
