/*
 * File-system calls through wasi-libc, one line of log per step. The same source builds as a
 * native Linux program (fs_native.c's main), so the log can be compared with POSIX.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char log_buf[65536];
static size_t log_len;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  __builtin_va_list ap;
  __builtin_va_start(ap, fmt);
  log_len += (size_t)vsnprintf(log_buf + log_len, sizeof log_buf - log_len, fmt, ap);
  __builtin_va_end(ap);
  log_len += (size_t)snprintf(log_buf + log_len, sizeof log_buf - log_len, "\n");
}

#define CHECK(label, expr)                                                \
  do {                                                                    \
    errno = 0;                                                            \
    long r_ = (long)(expr);                                               \
    if (r_ < 0) say("%s: -1 %s", label, strerror(errno));                 \
    else say("%s: ok", label);                                            \
  } while (0)

static int compare(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *label, const char *path) {
  DIR *d = opendir(path);
  if (d == NULL) {
    say("%s: opendir %s", label, strerror(errno));
    return;
  }
  char *names[1024];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 1024) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], compare);
  unsigned long long hash = 5381;
  for (int i = 0; i < n; i++) {
    for (const char *c = names[i]; *c; c++) hash = hash * 33 + (unsigned char)*c;
    hash = hash * 33 + ',';
  }
  say("%s: %d entries, first %s, last %s, hash %llu", label, n, n ? names[0] : "-", n ? names[n - 1] : "-", hash);
  for (int i = 0; i < n; i++) free(names[i]);
}

/* Runs every step below `base` (a writable directory) and `ro` (a read-only one). */
const char *fs_steps(const char *base, const char *ro) {
  char p[512], q[512];
  log_len = 0;
  log_buf[0] = 0;

  snprintf(p, sizeof p, "%s/dir", base);
  CHECK("mkdir", mkdir(p, 0755));
  CHECK("mkdir again", mkdir(p, 0755));

  snprintf(p, sizeof p, "%s/dir/file.txt", base);
  int fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0644);
  say("open create: %s", fd >= 0 ? "ok" : strerror(errno));
  CHECK("write", write(fd, "hello world", 11));
  say("lseek cur: %ld", (long)lseek(fd, 0, SEEK_CUR));
  say("lseek set 6: %ld", (long)lseek(fd, 6, SEEK_SET));
  char buf[64] = {0};
  say("read: %ld %s", (long)read(fd, buf, sizeof buf - 1), buf);
  memset(buf, 0, sizeof buf);
  say("pread 0,5: %ld %s", (long)pread(fd, buf, 5, 0), buf);
  CHECK("pwrite", pwrite(fd, "HELLO", 5, 0));
  say("lseek end: %ld", (long)lseek(fd, 0, SEEK_END));
  struct stat st;
  CHECK("fstat", fstat(fd, &st));
  say("fstat size %ld regular %d", (long)st.st_size, S_ISREG(st.st_mode));
  CHECK("ftruncate 20", ftruncate(fd, 20));
  CHECK("fstat", fstat(fd, &st));
  say("size after ftruncate %ld", (long)st.st_size);
  CHECK("fsync", fsync(fd));
  CHECK("close", close(fd));
  CHECK("close again", close(fd));

  fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
  say("open O_EXCL existing: %s", fd >= 0 ? "ok" : strerror(errno));
  fd = open(p, O_WRONLY | O_APPEND);
  CHECK("append", write(fd, "!", 1));
  close(fd);
  FILE *f = fopen(p, "r");
  memset(buf, 0, sizeof buf);
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  for (size_t i = 0; i < got; i++)
    if (buf[i] == 0) buf[i] = '.';
  say("contents: %zu %s", got, buf);

  CHECK("stat file", stat(p, &st));
  say("stat size %ld regular %d", (long)st.st_size, S_ISREG(st.st_mode));
  snprintf(q, sizeof q, "%s/dir", base);
  CHECK("stat dir", stat(q, &st));
  say("stat dir isdir %d", S_ISDIR(st.st_mode));
  snprintf(q, sizeof q, "%s/dir/missing", base);
  CHECK("stat missing", stat(q, &st));
  CHECK("access", access(p, R_OK));

  snprintf(q, sizeof q, "%s/dir/renamed.txt", base);
  CHECK("rename", rename(p, q));
  CHECK("stat old name", stat(p, &st));
  snprintf(p, sizeof p, "%s/dir", base);
  CHECK("rmdir non-empty", rmdir(p));
  snprintf(p, sizeof p, "%s/dir/link", base);
  CHECK("symlink", symlink("renamed.txt", p));
  memset(buf, 0, sizeof buf);
  say("readlink: %ld %s", (long)readlink(p, buf, sizeof buf - 1), buf);
  f = fopen(p, "r");
  memset(buf, 0, sizeof buf);
  if (f) {
    got = fread(buf, 1, 5, f);
    fclose(f);
    say("read through link: %s", buf);
  } else say("open link: %s", strerror(errno));
  CHECK("unlink link", unlink(p));
  CHECK("unlink file", unlink(q));
  snprintf(p, sizeof p, "%s/dir", base);
  CHECK("rmdir", rmdir(p));

  /* Many entries with long names: readdir must page through fd_readdir. */
  snprintf(p, sizeof p, "%s/many", base);
  mkdir(p, 0755);
  for (int i = 0; i < 300; i++) {
    snprintf(q, sizeof q, "%s/many/entry-%03d-%.*s", base, i, i % 200, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
    int h = open(q, O_CREAT | O_WRONLY, 0644);
    if (h < 0) {
      say("create %d: %s", i, strerror(errno));
      break;
    }
    close(h);
  }
  list("list many", p);

  /* A big file through stdio, read back in odd-sized chunks. */
  snprintf(p, sizeof p, "%s/big.bin", base);
  f = fopen(p, "wb");
  for (int i = 0; i < 300000; i++) fputc((i * 7) & 0xff, f);
  fclose(f);
  f = fopen(p, "rb");
  unsigned long long sum = 0;
  size_t total = 0;
  char chunk[1000];
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
    for (size_t i = 0; i < got; i++) sum += (unsigned char)chunk[i] * (unsigned long long)(total + i + 1);
    total += got;
  }
  fclose(f);
  say("big: %zu bytes, sum %llu", total, sum);

  /* The read-only directory. */
  snprintf(p, sizeof p, "%s/ro.txt", ro);
  f = fopen(p, "r");
  memset(buf, 0, sizeof buf);
  if (f) {
    got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
  }
  say("read ro: %s", f ? buf : strerror(errno));
  fd = open(p, O_WRONLY);
  say("open ro for writing: %s", fd >= 0 ? "ok" : strerror(errno));
  snprintf(p, sizeof p, "%s/new.txt", ro);
  fd = open(p, O_CREAT | O_WRONLY, 0644);
  say("create in ro: %s", fd >= 0 ? "ok" : strerror(errno));
  snprintf(p, sizeof p, "%s/sub", ro);
  CHECK("mkdir in ro", mkdir(p, 0755));
  snprintf(p, sizeof p, "%s/ro.txt", ro);
  CHECK("unlink in ro", unlink(p));
  return log_buf;
}
