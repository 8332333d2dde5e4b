/* echo in C, written from docs/guest.md alone (no SDK, no libc): the proof that the guest
 * interface is language-neutral. Same behaviour as guest/examples/echo.ts: listens on
 * 127.0.0.1:PORT (PORT = its first argument, 0 = any), logs "echo listening on HOST:PORT",
 * echoes every byte, honours half-close, and pauses reading while the host does not take its
 * writes (backpressure). Build: clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry
 * -Wl,--export-dynamic -o echo-c.wasm echo.c  (scripts/build-plugins.mjs does, where clang is). */
#define IMPORT(m, n) __attribute__((import_module(m), import_name(n)))
#define EXPORT(n) __attribute__((export_name(n)))

IMPORT("wasinet_guest", "server_listen") int server_listen(const char *host, int len, int port, int flags);
IMPORT("wasinet_guest", "socket_write") int socket_write(int h, const void *p, int len);
IMPORT("wasinet_guest", "socket_end") void socket_end(int h);
IMPORT("wasinet_guest", "socket_destroy") void socket_destroy(int h);
IMPORT("wasinet_guest", "socket_pause") void socket_pause(int h);
IMPORT("wasinet_guest", "socket_resume") void socket_resume(int h);
IMPORT("wasinet_guest", "address") int address(int h, int which, char *p, int cap);
IMPORT("wasinet_guest", "log") void log_line(const char *p, int len);
IMPORT("wasinet_guest", "exit") void guest_exit(int code);
IMPORT("wasi_snapshot_preview1", "args_sizes_get") int args_sizes_get(int *argc, int *size);
IMPORT("wasi_snapshot_preview1", "args_get") int args_get(char **argv, char *buf);

#define ALLOW_HALF_OPEN 1
#define CHUNK (1 << 20)
#define SLOTS 64

/* Data is handed in one call at a time, so one buffer serves every wasinet_alloc. */
static unsigned char incoming[CHUNK];
/* What the host did not take yet, per connection (while it waits, the connection is paused). */
static struct { int h, len, off, ended; unsigned char *buf; } slot[SLOTS];
static unsigned char pending_bufs[8][CHUNK];
static int pending_used[8];

static int slen(const char *s) { int n = 0; while (s[n]) n++; return n; }
static void logs(const char *s) { log_line(s, slen(s)); }

static int find(int h) { for (int i = 0; i < SLOTS; i++) if (slot[i].h == h) return i; return -1; }

EXPORT("wasinet_alloc") void *wasinet_alloc(int size) { return size <= CHUNK ? incoming : 0; }

EXPORT("wasinet_main") void wasinet_main(void) {
  int argc, size;
  static char *argv[16];
  static char buf[1024];
  args_sizes_get(&argc, &size);
  if (argc < 2 || argc > 16 || size > (int)sizeof buf) { logs("usage: echo-c PORT"); guest_exit(2); }
  args_get(argv, buf);
  int port = 0;
  for (const char *p = argv[1]; *p >= '0' && *p <= '9'; p++) port = port * 10 + (*p - '0');
  server_listen("127.0.0.1", 9, port, ALLOW_HALF_OPEN);
}

EXPORT("wasinet_on_listening") void on_listening(int h) {
  static char line[128] = "echo listening on ";
  int n = address(h, 0, line + 18, sizeof line - 18);
  log_line(line, 18 + (n > 0 ? n : 0));
}

EXPORT("wasinet_on_error") void on_error(int h, int errno_, int syscall) {
  if (syscall == 5) { logs("echo-c: listen failed"); guest_exit(1); }
}

EXPORT("wasinet_on_accept") void on_accept(int server, int h) {
  int i = find(0);
  if (i < 0) { socket_destroy(h); return; }
  slot[i].h = h; slot[i].len = slot[i].off = slot[i].ended = 0; slot[i].buf = 0;
}

static void keep(int i, const unsigned char *p, int len) {
  for (int b = 0; b < 8; b++) if (!pending_used[b]) {
    pending_used[b] = 1;
    slot[i].buf = pending_bufs[b];
    for (int k = 0; k < len; k++) slot[i].buf[k] = p[k];
    slot[i].len = len; slot[i].off = 0;
    socket_pause(slot[i].h);
    return;
  }
  socket_destroy(slot[i].h); /* no room to wait: give up on this connection */
}

EXPORT("wasinet_on_data") void on_data(int h, unsigned char *p, int len) {
  int i = find(h);
  if (i < 0) return;
  int n = socket_write(h, p, len);
  if (n >= 0 && n < len) keep(i, p + n, len - n);
}

EXPORT("wasinet_on_drain") void on_drain(int h) {
  int i = find(h);
  if (i < 0 || !slot[i].buf) return;
  int n = socket_write(h, slot[i].buf + slot[i].off, slot[i].len - slot[i].off);
  if (n < 0) n = slot[i].len - slot[i].off;
  slot[i].off += n;
  if (slot[i].off < slot[i].len) return;
  pending_used[(slot[i].buf - pending_bufs[0]) / CHUNK] = 0;
  slot[i].buf = 0;
  if (slot[i].ended) socket_end(h); else socket_resume(h);
}

EXPORT("wasinet_on_end") void on_end(int h) {
  int i = find(h);
  if (i >= 0 && slot[i].buf) slot[i].ended = 1; else socket_end(h);
}

EXPORT("wasinet_on_close") void on_close(int h, int had_error) {
  int i = find(h);
  if (i < 0) return;
  if (slot[i].buf) pending_used[(slot[i].buf - pending_bufs[0]) / CHUNK] = 0;
  slot[i].h = 0; slot[i].buf = 0;
}
