// A C++ plug-in (libc++ for WASI): global objects with constructors, std::string,
// std::vector, std::map. The constructors must run exactly once per instance.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

extern "C" {
#include "extism.h"
}

namespace {

int constructed = 0;

struct Registry {
  std::map<std::string, int> words;
  std::vector<std::string> order;
  Registry() {
    constructed++;
    add("alpha");
    add("beta");
  }
  void add(const std::string &word) {
    if (words[word]++ == 0) order.push_back(word);
  }
};

Registry registry;  // a global with a constructor: runs from __wasm_call_ctors
const std::string prefix = std::string("words") + ":";

std::string input() {
  std::string s(x_input_length(), '\0');
  x_load_input(&s[0], s.size());  // data() is const before C++17
  return s;
}

void output(const std::string &s) { x_output(s.data(), s.size()); }

}  // namespace

// Adds each space-separated word of the input; outputs every word seen so far, sorted, with its count.
extern "C" EXTISM_EXPORT("add_words") int32_t add_words() {
  std::string text = input();
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) registry.add(text.substr(start, end - start));
    start = end + 1;
  }
  std::vector<std::string> sorted = registry.order;
  std::sort(sorted.begin(), sorted.end());
  std::string out = prefix;
  for (const auto &w : sorted) out += " " + w + "=" + std::to_string(registry.words[w]);
  output(out);
  return 0;
}

extern "C" EXTISM_EXPORT("constructed") int32_t constructed_count() {
  output(std::to_string(constructed));
  return 0;
}
