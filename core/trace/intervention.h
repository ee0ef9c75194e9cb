// Interventions on a trained MoE model, for asking what an expert does: remove one expert from a layer's
// routing, or send every token of a layer to one expert; then compare per-character losses before and after,
// overall and per character class. The checkpoint is never modified: an intervened model shares the weights
// and routes differently (InferenceModel::intervened).
#pragma once

#include <array>
#include <string>
#include <vector>

namespace moewb {

struct Intervention {
  int layer = -1;    // the MoE layer; -1: none (the model as trained)
  int disable = -1;  // expert removed from the layer's routing
  int force = -1;    // expert receiving every token of the layer with weight 1
  bool none() const { return layer < 0; }
  std::string describe() const;  // "layer 2: expert 3 disabled", "none"
};

enum class CharClass { lower, upper, digit, punctuation, whitespace, other };
inline constexpr int kCharClasses = 6;
CharClass char_class(char32_t c);
const char* char_class_name(CharClass c);

// Per-character losses of one text under the model as trained and under an intervention, grouped by class.
struct LossComparison {
  struct Row {
    int64_t characters = 0;
    double share = 0;                    // of the compared characters; the rows' shares sum to 1
    double base = 0, changed = 0;        // mean loss (nats) of the class's characters
    double delta() const { return changed - base; }
  };
  std::array<Row, kCharClasses> classes;
  Row all;
};

// `base` and `changed` hold, per character of `text`, the loss of predicting it (NaN where nothing predicts
// it: the first character); both come from InferenceModel::char_losses.
LossComparison compare_losses(const std::u32string& text, const std::vector<double>& base,
                              const std::vector<double>& changed);

}  // namespace moewb
