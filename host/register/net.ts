// What an import of `net` or `node:net` gives under `wasinet/register` (hooks.ts points it
// here): wasinet's module — node:net's exports, on the default stack.
export * from '../index.js';
export { default } from '../index.js';
