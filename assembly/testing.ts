// The core plus hooks that only tests need (build/testing.wasm). Not part of the product build.
export * from "./index";

/** Traps the way a failed assertion inside the core would. */
export function testAbort(t: f64, code: i32): void {
  abort("deliberate trap for tests, code " + code.toString(), "assembly/testing.ts", 1, 1);
}
