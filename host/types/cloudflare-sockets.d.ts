// workerd's socket module (docs: developers.cloudflare.com/workers/runtime-apis/tcp-sockets):
// only host/workerd.ts imports it, and only a workerd bundle loads that file.
declare module 'cloudflare:sockets' {
  export const connect: import('../backend/workerd-api.js').WorkerdConnect;
}
