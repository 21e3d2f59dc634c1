/* fs.c as a plug-in: input "BASE\nRO", output the log. */
#include <stdlib.h>
#include <string.h>

#include "extism.h"

const char *fs_steps(const char *base, const char *ro);

EXTISM_EXPORT("fs_steps") int32_t fs_steps_export(void) {
  uint64_t n = x_input_length();
  char *input = calloc(n + 1, 1);
  x_load_input(input, n);
  char *newline = strchr(input, '\n');
  if (newline == NULL) {
    x_error_str("input must be BASE\\nRO");
    return 1;
  }
  *newline = 0;
  x_output_str(fs_steps(input, newline + 1));
  free(input);
  return 0;
}
