// Construction on an existing object, for subclasses written the pre-class way:
//
//   function MySocket(options) { net.Socket.call(this, options); }
//   util.inherits(MySocket, net.Socket);
//
// Node's Socket and Server are plain functions, so `net.Socket.call(this)` initializes `this`.
// wasinet's are classes with private fields, which only a constructor can give an object, and
// only the object its base constructor returned. So each of them extends a stand-in for its base
// (Duplex, EventEmitter): a plain function that initializes the base on `this`, as the base
// would be — or, while `constructOn` is at work, on the object given, which it returns instead:
// the class's fields and constructor then apply to that object.
let adopting: object | null = null;

/**
 * A constructor that behaves as `Base` (same prototype, same statics) and can hand a subclass
 * an existing object to initialize (constructOn). `Base` is an ES5-style constructor of one
 * argument (Duplex, EventEmitter), callable on an object already made.
 */
export function adoptable<T extends abstract new (arg?: any) => object>(Base: T): T {
  const init = Base as unknown as (this: object, arg?: unknown) => void;
  const Stand = function (this: object, arg?: unknown): object | void {
    const o = adopting;
    if (o !== null) {
      adopting = null;
      init.call(o, arg);
      return o;
    }
    init.call(this, arg);
  };
  Object.defineProperty(Stand, 'name', { value: Base.name });
  Object.defineProperty(Stand, 'prototype', { value: Base.prototype, writable: false });
  Object.setPrototypeOf(Stand, Base);
  return Stand as unknown as T;
}

/**
 * Runs `Class`'s constructor on `o` (whose prototype chain already includes `Class.prototype`):
 * what `net.Socket.call(o, ...)` does in Node. `Class` must extend an `adoptable` base.
 */
export function constructOn(o: object, Class: new (...args: any[]) => object, args: unknown[]): void {
  adopting = o;
  try {
    const made = Reflect.construct(Class, args, Class);
    if (made !== o) throw new Error('wasinet: construction on an existing object failed');
  } finally {
    adopting = null;
  }
}
