// What `import net from 'net'` (or `import { connect } from 'node:net'`) gives under
// `wasinet/register`: wasinet's module — node:net's exports, on the default stack.
export * from '../index.js';
export { default } from '../index.js';
