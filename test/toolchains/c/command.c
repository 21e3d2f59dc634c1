/*
 * A WASI command (clang --target=wasm32-wasi, the default exec model): `_start` runs main,
 * and other exports are wrapped by the linker to run the constructors (and destructors,
 * which flush stdio) around each call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extism.h"

static int ctor_runs = 0;
static int calls = 0;

__attribute__((constructor)) static void count_ctor(void) { ctor_runs++; }

int main(int argc, char **argv) {
  printf("main: argc=%d first=%s ctor_runs=%d\n", argc, argc > 0 ? argv[0] : "-", ctor_runs);
  uint64_t n = x_input_length();
  char *code = calloc(n + 1, 1);
  x_load_input(code, n);
  x_output_str("from main");
  return atoi(code);
}

EXTISM_EXPORT("state") int32_t state(void) {
  calls++;
  printf("state without a newline");
  char out[64];
  int len = snprintf(out, sizeof out, "ctor_runs=%d calls=%d", ctor_runs, calls);
  x_output(out, (uint64_t)len);
  return 0;
}
