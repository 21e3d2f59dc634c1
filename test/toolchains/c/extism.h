/*
 * Our own declarations of the Extism host ABI (docs/ABI.md), as a C plug-in sees it.
 * Written for plughost's toolchain tests; every handle, length and offset is an i64.
 */
#ifndef PLUGHOST_TEST_EXTISM_H
#define PLUGHOST_TEST_EXTISM_H

#include <stddef.h>
#include <stdint.h>

#define EXTISM_IMPORT(name) __attribute__((import_module("extism:host/env"), import_name(name)))
#define EXTISM_EXPORT(name) __attribute__((export_name(name)))

typedef uint64_t xh; /* a handle into kernel memory */

EXTISM_IMPORT("alloc") xh x_alloc(uint64_t n);
EXTISM_IMPORT("free") void x_free(xh h);
EXTISM_IMPORT("length") uint64_t x_length(xh h);
EXTISM_IMPORT("load_u8") uint8_t x_load_u8(xh p);
EXTISM_IMPORT("load_u64") uint64_t x_load_u64(xh p);
EXTISM_IMPORT("store_u8") void x_store_u8(xh p, uint8_t v);
EXTISM_IMPORT("store_u64") void x_store_u64(xh p, uint64_t v);
EXTISM_IMPORT("input_length") uint64_t x_input_length(void);
EXTISM_IMPORT("input_load_u8") uint8_t x_input_load_u8(uint64_t offset);
EXTISM_IMPORT("input_load_u64") uint64_t x_input_load_u64(uint64_t offset);
EXTISM_IMPORT("output_set") void x_output_set(xh h, uint64_t n);
EXTISM_IMPORT("error_set") void x_error_set(xh h);
EXTISM_IMPORT("config_get") xh x_config_get(xh key);
EXTISM_IMPORT("var_get") xh x_var_get(xh key);
EXTISM_IMPORT("var_set") void x_var_set(xh key, xh value);
EXTISM_IMPORT("log_info") void x_log_info(xh msg);

/* Copy n bytes of plug-in memory into a new kernel block: 8 bytes at a time, then the tail. */
static inline xh x_store_bytes(const void *data, uint64_t n) {
  const uint8_t *p = (const uint8_t *)data;
  xh h = x_alloc(n);
  if (h == 0) return 0;
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    __builtin_memcpy(&word, p + i, 8);
    x_store_u64(h + i, word);
  }
  for (; i < n; i++) x_store_u8(h + i, p[i]);
  return h;
}

/* Copy a kernel block into plug-in memory (dst must hold x_length(h) bytes). */
static inline void x_load_bytes(xh h, void *dst, uint64_t n) {
  uint8_t *p = (uint8_t *)dst;
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word = x_load_u64(h + i);
    __builtin_memcpy(p + i, &word, 8);
  }
  for (; i < n; i++) p[i] = x_load_u8(h + i);
}

/* The call's input into dst (at least x_input_length() bytes). */
static inline void x_load_input(void *dst, uint64_t n) {
  uint8_t *p = (uint8_t *)dst;
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word = x_input_load_u64(i);
    __builtin_memcpy(p + i, &word, 8);
  }
  for (; i < n; i++) p[i] = x_input_load_u8(i);
}

static inline size_t x_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static inline void x_output(const void *data, uint64_t n) {
  xh h = x_store_bytes(data, n);
  x_output_set(h, n);
}

static inline void x_output_str(const char *s) { x_output(s, x_strlen(s)); }

static inline void x_error_str(const char *s) { x_error_set(x_store_bytes(s, x_strlen(s))); }

#endif
