import type { Backend } from './backend.js';
export function createBunBackend(): Backend { throw new Error('todo'); }
