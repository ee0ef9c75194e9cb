// A deterministic synthetic corpus for tests: words from a small list, so tests need no downloaded data.
#pragma once

#include <random>
#include <string>

inline std::string synthetic_corpus(size_t characters, unsigned seed = 3) {
  static const char* words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "runs",
                                "to", "a", "river", "where", "birds", "sing", "all", "day", "long"};
  std::mt19937 rng(seed);
  std::string text;
  while (text.size() < characters) {
    text += words[rng() % (sizeof words / sizeof *words)];
    text += (rng() % 9 == 0) ? ".\n" : " ";
  }
  return text.substr(0, characters);
}
