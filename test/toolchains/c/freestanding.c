/*
 * A C plug-in with no libc and no WASI at all (clang --target=wasm32-unknown-unknown
 * -nostdlib -Wl,--no-entry): only the Extism ABI. Recursion and loops without a libc.
 */
#include "extism.h"

static uint64_t calls = 0;

EXTISM_EXPORT("count_vowels") int32_t count_vowels(void) {
  uint64_t n = x_input_length();
  uint64_t count = 0;
  for (uint64_t i = 0; i < n; i++) {
    switch (x_input_load_u8(i)) {
      case 'a': case 'e': case 'i': case 'o': case 'u':
      case 'A': case 'E': case 'I': case 'O': case 'U':
        count++;
    }
  }
  calls++;
  char out[48];
  int len = 0;
  char digits[24];
  int d = 0;
  do { digits[d++] = (char)('0' + count % 10); count /= 10; } while (count);
  while (d) out[len++] = digits[--d];
  out[len++] = '/';
  uint64_t c = calls;
  do { digits[d++] = (char)('0' + c % 10); c /= 10; } while (c);
  while (d) out[len++] = digits[--d];
  x_output(out, (uint64_t)len);
  return 0;
}

/* Naive recursion, kept from being turned into a loop. */
__attribute__((noinline)) static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

EXTISM_EXPORT("fib") int32_t fib_export(void) {
  uint32_t n = 0;
  uint64_t len = x_input_length();
  for (uint64_t i = 0; i < len; i++) n = n * 10 + (uint32_t)(x_input_load_u8(i) - '0');
  uint32_t r = fib(n);
  x_output(&r, 4);
  return 0;
}

/* Unbounded recursion: exhausts the wasm stack (a trap), not the shadow stack. */
__attribute__((noinline)) static uint64_t deep(uint64_t n) { return n == 0 ? 0 : 1 + deep(n + 1) * 3; }

EXTISM_EXPORT("overflow") int32_t overflow(void) { return (int32_t)deep(x_input_length() + 1); }

/*
 * Returns two values: with -mmultivalue -Xclang -target-abi -Xclang experimental-mv the
 * struct comes back as a wasm multi-value result. A loop with an early return inside.
 */
typedef struct {
  uint32_t digits;
  uint32_t sum;
} digit_stats;

__attribute__((noinline)) static digit_stats stats_of(uint64_t n) {
  digit_stats s = {0, 0};
  for (uint64_t i = 0; i < n; i++) {
    uint8_t c = x_input_load_u8(i);
    if (c == '!') return s;
    if (c >= '0' && c <= '9') {
      s.digits++;
      s.sum += (uint32_t)(c - '0');
    }
  }
  return s;
}

EXTISM_EXPORT("digit_stats") int32_t digit_stats_export(void) {
  digit_stats s = stats_of(x_input_length());
  uint32_t out[2] = {s.digits, s.sum};
  x_output(out, 8);
  return 0;
}

/* Mutual recursion in tail position: return_call with -mtail-call (-O1 and up). */
__attribute__((noinline)) static uint32_t countdown_odd(uint32_t n, uint32_t acc);
__attribute__((noinline)) static uint32_t countdown(uint32_t n, uint32_t acc) {
  if (n == 0) return acc;
  return countdown_odd(n - 1, acc + (n & 3));
}
__attribute__((noinline)) static uint32_t countdown_odd(uint32_t n, uint32_t acc) {
  if (n == 0) return acc;
  return countdown(n - 1, acc ^ n);
}

EXTISM_EXPORT("countdown") int32_t countdown_export(void) {
  uint32_t r = countdown(1000 + (uint32_t)x_input_length(), 0);
  x_output(&r, 4);
  return 0;
}
