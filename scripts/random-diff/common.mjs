// What the random differential scripts share: the library under test, a seeded generator, and
// small helpers. (scripts/random-diff/run.sh runs them; docs/design.md says what they found.)
import crypto from 'node:crypto';
import nodeNet from 'node:net';

/** wasinet (after `npm run build`) for 'wasi', node:net otherwise. */
export async function library(which) {
  return which === 'wasi' ? await import(new URL('../../build/host/index.js', import.meta.url).href) : nodeNet;
}

/** A generator seeded by `seedArg`: rnd() in [0, 1), ri(a, b) an integer in [a, b], pick(xs). */
export function seeded(seedArg) {
  let seed = Number(seedArg) >>> 0 || 1;
  const rnd = () => { seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0; return seed / 2 ** 32; };
  const ri = (a, b) => a + Math.floor(rnd() * (b - a + 1));
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  return { rnd, ri, pick };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const hash = (b) => crypto.createHash('sha1').update(b).digest('hex').slice(0, 8);
