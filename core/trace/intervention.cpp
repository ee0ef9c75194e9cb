#include "core/trace/intervention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace moewb {

std::string Intervention::describe() const {
  if (none()) return "none";
  const std::string where = "layer " + std::to_string(layer) + ": ";
  if (force >= 0) return where + "every token to expert " + std::to_string(force);
  return where + "expert " + std::to_string(disable) + " disabled";
}

CharClass char_class(char32_t c) {
  if (c == U' ' || c == U'\n' || c == U'\t' || c == U'\r') return CharClass::whitespace;
  if (c >= U'a' && c <= U'z') return CharClass::lower;
  if (c >= U'A' && c <= U'Z') return CharClass::upper;
  if (c >= U'0' && c <= U'9') return CharClass::digit;
  if ((c >= U'!' && c <= U'/') || (c >= U':' && c <= U'@') || (c >= U'[' && c <= U'`') || (c >= U'{' && c <= U'~'))
    return CharClass::punctuation;
  return CharClass::other;  // non-ASCII letters and symbols
}

const char* char_class_name(CharClass c) {
  switch (c) {
    case CharClass::lower: return "lower-case letters";
    case CharClass::upper: return "upper-case letters";
    case CharClass::digit: return "digits";
    case CharClass::punctuation: return "punctuation";
    case CharClass::whitespace: return "whitespace";
    case CharClass::other: return "other";
  }
  return "";
}

LossComparison compare_losses(const std::u32string& text, const std::vector<double>& base,
                              const std::vector<double>& changed) {
  if (base.size() != text.size() || changed.size() != text.size())
    throw std::invalid_argument("compare_losses: one loss per character is needed");
  LossComparison out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (std::isnan(base[i]) || std::isnan(changed[i])) continue;
    for (auto* row : {&out.classes[static_cast<size_t>(char_class(text[i]))], &out.all}) {
      ++row->characters;
      row->base += base[i];
      row->changed += changed[i];
    }
  }
  auto finish = [&](LossComparison::Row& row) {
    if (row.characters == 0) return;
    row.share = static_cast<double>(row.characters) / static_cast<double>(std::max<int64_t>(1, out.all.characters));
    row.base /= static_cast<double>(row.characters);
    row.changed /= static_cast<double>(row.characters);
  };
  for (auto& row : out.classes) finish(row);
  finish(out.all);
  return out;
}

}  // namespace moewb
