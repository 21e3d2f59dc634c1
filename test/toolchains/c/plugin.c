/*
 * A C plug-in built the way the C PDK builds one: wasm32-wasi, wasi-libc, a reactor
 * (clang --target=wasm32-wasi -mexec-model=reactor). Exercises libc (malloc, stdio, files,
 * getenv, clocks, random) through our WASI, and the Extism ABI through extism.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wasi/api.h>

#include "extism.h"

static int ctor_runs = 0;
static uint64_t total = 0;

__attribute__((constructor)) static void count_ctor(void) { ctor_runs++; }

/* The input as a NUL-terminated string (malloc'd). */
static char *input_string(uint64_t *len_out) {
  uint64_t n = x_input_length();
  char *s = malloc(n + 1);
  x_load_input(s, n);
  s[n] = 0;
  if (len_out) *len_out = n;
  return s;
}

/* config_get(key) as a malloc'd string, NULL when absent. */
static char *config_string(const char *key) {
  xh value = x_config_get(x_store_bytes(key, strlen(key)));
  if (value == 0) return NULL;
  uint64_t n = x_length(value);
  char *s = malloc(n + 1);
  x_load_bytes(value, s, n);
  s[n] = 0;
  x_free(value);
  return s;
}

static int fail_errno(const char *what, const char *path) {
  char message[512];
  snprintf(message, sizeof message, "%s %s: %s", what, path, strerror(errno));
  x_error_str(message);
  return 1;
}

EXTISM_EXPORT("count_vowels") int32_t count_vowels(void) {
  uint64_t n;
  char *text = input_string(&n);
  char *vowels = config_string("vowels");
  if (vowels == NULL) vowels = strdup("aeiouAEIOU");
  uint64_t count = 0;
  for (uint64_t i = 0; i < n; i++)
    if (text[i] != 0 && strchr(vowels, text[i]) != NULL) count++;
  total += count;
  char out[256];
  int len = snprintf(out, sizeof out, "{\"count\":%llu,\"total\":%llu,\"vowels\":\"%s\"}", (unsigned long long)count,
                     (unsigned long long)total, vowels);
  x_output(out, (uint64_t)len);
  free(text);
  free(vowels);
  return 0;
}

EXTISM_EXPORT("greet") int32_t greet(void) {
  char *greeting = config_string("greeting");
  if (greeting == NULL) {
    x_error_str("no greeting configured");
    return 1;
  }
  char *name = input_string(NULL);
  size_t size = strlen(greeting) + strlen(name) + 4;
  char *out = malloc(size);
  snprintf(out, size, "%s, %s!", greeting, name);
  x_output_str(out);
  free(out);
  free(name);
  free(greeting);
  return 0;
}

/* A counter kept in a var ("count", 4 bytes little endian) plus one in plug-in memory. */
static int32_t memory_calls = 0;
EXTISM_EXPORT("count_calls") int32_t count_calls(void) {
  static const char key[] = "count";
  xh previous = x_var_get(x_store_bytes(key, 5));
  uint32_t count = 0;
  if (previous != 0 && x_length(previous) == 4) x_load_bytes(previous, &count, 4);
  count++;
  memory_calls++;
  x_var_set(x_store_bytes(key, 5), x_store_bytes(&count, 4));
  char out[64];
  int len = snprintf(out, sizeof out, "var=%u memory=%d", count, memory_calls);
  x_output(out, (uint64_t)len);
  return 0;
}

EXTISM_EXPORT("forget") int32_t forget(void) {
  static const char key[] = "count";
  x_var_set(x_store_bytes(key, 5), 0);
  return 0;
}

/* printf through stdio to fd 1, then a line to stderr. */
EXTISM_EXPORT("print") int32_t print(void) {
  char *name = input_string(NULL);
  printf("hello, %s\n", name);
  printf("%d + %d = %d\n", 2, 2, 4);
  fflush(stdout);
  fprintf(stderr, "warning: %s\n", name);
  x_output_str("printed");
  free(name);
  return 0;
}

/* printf without a newline and without fflush: the bytes stay in stdio's buffer. */
EXTISM_EXPORT("print_partial") int32_t print_partial(void) {
  printf("partial");
  return 0;
}

EXTISM_EXPORT("read_file") int32_t read_file(void) {
  char *path = input_string(NULL);
  FILE *f = fopen(path, "rb");
  if (f == NULL) return fail_errno("cannot open", path);
  char *data = NULL;
  size_t size = 0, cap = 0;
  for (;;) {
    if (size == cap) {
      cap = cap ? cap * 2 : 4096;
      data = realloc(data, cap);
    }
    size_t got = fread(data + size, 1, cap - size, f);
    if (got == 0) break;
    size += got;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) return fail_errno("cannot read", path);
  x_output(data, size);
  free(data);
  free(path);
  return 0;
}

/*
 * Input "DIR\nFILE": opens DIR, then FILE inside it asking for every right DIR may hand on
 * (what a libc does when it wants all it may have), and reads FILE. Outputs whether DIR's
 * fd and FILE's fd carry the write right, and what was read.
 */
EXTISM_EXPORT("open_with_all_rights") int32_t open_with_all_rights(void) {
  char *input = input_string(NULL);
  char *file = strchr(input, '\n');
  if (file == NULL) {
    x_error_str("input must be DIR\\nFILE");
    return 1;
  }
  *file++ = 0;
  int dir = open(input, O_RDONLY | O_DIRECTORY);
  if (dir < 0) return fail_errno("cannot open", input);
  __wasi_fdstat_t dir_stat;
  if (__wasi_fd_fdstat_get((__wasi_fd_t)dir, &dir_stat) != 0) return fail_errno("cannot stat", input);
  __wasi_rights_t all = dir_stat.fs_rights_inheriting;
  __wasi_fd_t fd;
  __wasi_errno_t err = __wasi_path_open((__wasi_fd_t)dir, 0, file, 0, all, all, 0, &fd);
  if (err != 0) {
    errno = err;
    return fail_errno("cannot open", file);
  }
  __wasi_fdstat_t file_stat;
  if (__wasi_fd_fdstat_get(fd, &file_stat) != 0) return fail_errno("cannot stat", file);
  char data[256];
  ssize_t got = read((int)fd, data, sizeof data - 1);
  if (got < 0) return fail_errno("cannot read", file);
  data[got] = 0;
  char out[512];
  int len = snprintf(out, sizeof out, "dir can write: %d, file can write: %d, read: %s",
                     (dir_stat.fs_rights_inheriting & __WASI_RIGHTS_FD_WRITE) != 0,
                     (file_stat.fs_rights_base & __WASI_RIGHTS_FD_WRITE) != 0, data);
  close((int)fd);
  close(dir);
  free(input);
  x_output(out, (uint64_t)len);
  return 0;
}

/* Input "PATH\nCONTENTS": writes CONTENTS to PATH. */
EXTISM_EXPORT("write_file") int32_t write_file(void) {
  uint64_t n;
  char *input = input_string(&n);
  char *newline = strchr(input, '\n');
  if (newline == NULL) {
    x_error_str("input must be PATH\\nCONTENTS");
    return 1;
  }
  *newline = 0;
  FILE *f = fopen(input, "wb");
  if (f == NULL) return fail_errno("cannot create", input);
  size_t len = n - (size_t)(newline + 1 - input);
  size_t put = fwrite(newline + 1, 1, len, f);
  if (fclose(f) != 0 || put != len) return fail_errno("cannot write", input);
  free(input);
  return 0;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

EXTISM_EXPORT("list_dir") int32_t list_dir(void) {
  char *path = input_string(NULL);
  DIR *dir = opendir(path);
  if (dir == NULL) return fail_errno("cannot list", path);
  char *names[256];
  int count = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL && count < 256) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    names[count++] = strdup(entry->d_name);
  }
  closedir(dir);
  qsort(names, (size_t)count, sizeof names[0], compare_names);
  char out[8192];
  size_t len = 0;
  for (int i = 0; i < count; i++) {
    len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", i ? "," : "", names[i]);
    free(names[i]);
  }
  x_output(out, len);
  free(path);
  return 0;
}

EXTISM_EXPORT("fail") int32_t fail(void) {
  char *why = input_string(NULL);
  char message[300];
  snprintf(message, sizeof message, "this plug-in always fails: %s", why);
  x_error_str(message);
  free(why);
  return 1;
}

EXTISM_EXPORT("return_code") int32_t return_code(void) {
  char *input = input_string(NULL);
  int code = atoi(input);
  free(input);
  return code;
}

EXTISM_EXPORT("exit_with") int32_t exit_with(void) {
  char *input = input_string(NULL);
  int code = atoi(input);
  free(input);
  x_output_str("before exit");
  exit(code);
}

EXTISM_EXPORT("trap") int32_t trap(void) { __builtin_trap(); }

EXTISM_EXPORT("ctor_runs") int32_t ctor_runs_export(void) {
  char out[32];
  int len = snprintf(out, sizeof out, "%d", ctor_runs);
  x_output(out, (uint64_t)len);
  return 0;
}

/* Sum of the primes below n (a sieve): loops, memory, a deterministic amount of work. */
EXTISM_EXPORT("prime_sum") int32_t prime_sum(void) {
  char *input = input_string(NULL);
  long n = atol(input);
  free(input);
  if (n < 2) n = 2;
  unsigned char *composite = calloc((size_t)n, 1);
  unsigned long long sum = 0;
  for (long i = 2; i < n; i++) {
    if (composite[i]) continue;
    sum += (unsigned long long)i;
    for (long j = i * 2; j < n; j += i) composite[j] = 1;
  }
  free(composite);
  char out[32];
  int len = snprintf(out, sizeof out, "%llu", sum);
  x_output(out, (uint64_t)len);
  return 0;
}

/* Never returns on its own. */
EXTISM_EXPORT("spin") int32_t spin(void) {
  volatile unsigned long counter = 0;
  for (;;) counter++;
}

/* Grows memory: input is the number of MiB to allocate and touch. */
EXTISM_EXPORT("allocate") int32_t allocate(void) {
  char *input = input_string(NULL);
  size_t mib = (size_t)atol(input);
  free(input);
  unsigned char *block = malloc(mib << 20);
  if (block == NULL) {
    x_error_str("out of memory");
    return 1;
  }
  memset(block, 7, mib << 20);
  unsigned long sum = 0;
  for (size_t i = 0; i < (mib << 20); i += 4096) sum += block[i];
  free(block);
  char out[32];
  int len = snprintf(out, sizeof out, "%lu", sum);
  x_output(out, (uint64_t)len);
  return 0;
}

/* getenv, the clocks, random bytes, sleeping: the rest of WASI that libc reaches. */
EXTISM_EXPORT("environment") int32_t environment(void) {
  const char *name = getenv("PLUGHOST_NAME");
  struct timespec real, mono1, mono2;
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_MONOTONIC, &mono1);
  unsigned char random[16];
  int random_ok = getentropy(random, sizeof random) == 0;
  int nonzero = 0;
  for (int i = 0; i < 16; i++) nonzero |= random[i];
  usleep(2000);
  clock_gettime(CLOCK_MONOTONIC, &mono2);
  long long slept_us = (mono2.tv_sec - mono1.tv_sec) * 1000000LL + (mono2.tv_nsec - mono1.tv_nsec) / 1000;
  char out[256];
  int len = snprintf(out, sizeof out, "{\"name\":\"%s\",\"year_ok\":%s,\"random\":%s,\"slept\":%s}", name ? name : "",
                     real.tv_sec > 1600000000 ? "true" : "false", random_ok && nonzero ? "true" : "false",
                     slept_us >= 1500 ? "true" : "false");
  x_output(out, (uint64_t)len);
  return 0;
}
