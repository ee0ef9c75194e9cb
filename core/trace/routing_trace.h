// Routing as plain values: what each MoE layer did with each character (RoutingTrace), the per-layer
// load-balance metrics of an evaluation (LayerMetrics) and the char x expert affinity matrix. These cross
// threads and files freely: no torch, no Qt.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace moewb {

struct LayerTrace {
  int n_experts = 0;
  int slots = 0;                  // chosen-expert slots per character: k (topk), N (softmax, sigmoid), 1 (hash)
  std::vector<float> probs;       // [T*N] router probabilities (sigmoid: gates sigma(z); hash: one-hot)
  std::vector<int> chosen;        // [T*slots] expert per slot, -1 for an unused slot (sigmoid below tau)
  std::vector<float> weights;     // [T*slots] combine weight actually applied (0 when dropped)
  std::vector<uint8_t> dropped;   // [T*slots] 1 when capacity dropped the assignment

  int length() const { return n_experts ? static_cast<int>(probs.size()) / n_experts : 0; }
  float prob(int t, int e) const { return probs[static_cast<size_t>(t) * n_experts + e]; }
  int chosen_at(int t, int s) const { return chosen[static_cast<size_t>(t) * slots + s]; }
  float weight_at(int t, int s) const { return weights[static_cast<size_t>(t) * slots + s]; }
  bool dropped_at(int t, int s) const { return dropped[static_cast<size_t>(t) * slots + s] != 0; }
  // Experts that actually processed character t (chosen and not dropped).
  int active_count(int t) const;
  // The kept expert with the largest weight, or -1 when every assignment was dropped.
  int top_expert(int t) const;
  bool any_dropped(int t) const;
};

struct RoutingTrace {
  int step = -1;                    // training step of a snapshot, -1 for an ad-hoc trace
  std::optional<RoutingMode> routing;  // the model's routing mode; none for a dense model
  std::string routing_name() const;    // its name in files and subtitles ("topk"), "dense" without one
  bool capacity = false;            // the capacity limit was applied (training-sized batches)
  int n_experts = 0;
  std::u32string text;              // one character per column
  std::vector<LayerTrace> layers;   // empty for a dense model

  int length() const { return static_cast<int>(text.size()); }
  bool empty() const { return layers.empty(); }
  std::string to_json() const;
  // Throws std::runtime_error on malformed input.
  static RoutingTrace from_json(const std::string& json);
};

struct LayerMetrics {
  std::vector<double> load;        // f_i: share of router assignments (before capacity drops)
  std::vector<double> importance;  // P_i: mean router probability (sigmoid: mean gate)
  double load_entropy = 0;         // H(f) / log N, 1 = perfectly balanced
  double load_cv = 0;              // std(f) / mean(f)
  double max_share = 0;
  int dead_experts = 0;            // f_i < 1/(10N)
  double dropped_fraction = 0;     // dropped assignments / assignments
  double mean_active = 0;          // experts that processed a token, averaged over tokens
  double router_entropy = 0;       // mean over tokens of H(p) / log N
};

// Sums over evaluation batches, turned into LayerMetrics at the end.
struct LayerStatsAccumulator {
  std::vector<double> assignments;  // per expert
  std::vector<double> prob_sum;     // per expert
  double tokens = 0, dropped = 0, active = 0, entropy = 0;
  void add(const std::vector<double>& assigned, const std::vector<double>& probs, double n_tokens,
           double n_dropped, double n_active, double entropy_sum);
  LayerMetrics finish() const;
};

// For each character of the text's own character set (sorted by descending frequency): the share of its
// router assignments that went to each expert. rows[i] sums to 1.
struct AffinityMatrix {
  std::u32string characters;
  std::vector<int> counts;                 // occurrences per character
  std::vector<std::vector<double>> share;  // [characters][experts]
};
AffinityMatrix affinity(const RoutingTrace& trace, int layer);

// Routing stability between two snapshots of the same text: per layer, the share of characters whose top expert
// differs. Empty when the traces are not of the same text and model shape.
std::vector<double> top_expert_changes(const RoutingTrace& before, const RoutingTrace& after);

// One of an expert's most confidently routed characters: the window of the counted text ending at it (the
// router of a causal model only sees what comes before), and the router's probability of that expert for it.
struct RoutedWindow {
  float probability = 0;   // router probability of the expert for the character (sigmoid: its gate)
  int64_t position = 0;    // offset of the character in the counted text
  std::u32string window;   // kWindowLength characters ending at the character (fewer only at the text's start)
  char32_t character() const { return window.empty() ? U'\0' : window.back(); }
  // offset of the character inside the window (its last character)
  int offset_in_window() const { return static_cast<int>(window.size()) - 1; }
  bool operator==(const RoutedWindow& o) const {
    return probability == o.probability && position == o.position && window == o.window;
  }
};

// Router assignments per layer, character and expert, summed over any number of traces: the whole validation
// split routed in slices gives statistics of the data rather than of one probe text, in bounded memory.
// It also keeps expert profiles: per layer and expert, the `windows_per_expert` characters assigned to it with
// the highest router probability, each with the window of text ending at it (a fixed-size heap per layer x
// expert). The traces added are consecutive pieces of one counted text unless an offset says otherwise; the last
// characters of one piece complete the windows at the start of the next, so counting a text in slices keeps
// exactly what one trace of it would.
class RoutingCounts {
 public:
  static constexpr int kWindowLength = 20;       // characters per window, the routed one last
  static constexpr int kWindowsPerExpert = 20;   // default M of the profiles

  explicit RoutingCounts(int windows_per_expert = kWindowsPerExpert)
      : windows_per_expert_(windows_per_expert < 0 ? 0 : windows_per_expert) {}
  // `offset`: where the trace's text starts in the counted text; -1 (default) continues right after the previous
  // trace. Windows reach back into the previous trace only when it ended exactly at `offset`.
  void add(const RoutingTrace& trace, int64_t offset = -1);
  int experts() const { return n_experts_; }
  int layers() const { return static_cast<int>(layers_.size()); }
  int64_t characters() const { return characters_; }
  // Rows sorted by occurrences, shares of each character's assignments per expert (as affinity()).
  AffinityMatrix affinity(int layer) const;
  // Occurrences of a character in the counted text, and its assignments to one expert in a layer.
  int64_t occurrences(char32_t c) const;
  int64_t assignments(int layer, char32_t c, int expert) const;
  // The characters making up most of one expert's assignments in a layer: (character, share of that expert's
  // assignments), largest first, at most `count`.
  std::vector<std::pair<char32_t, double>> top_characters(int layer, int expert, int count) const;
  // All assignments to one expert of a layer, and to every expert of it (their ratio is the expert's share).
  int64_t expert_assignments(int layer, int expert) const;
  int64_t layer_assignments(int layer) const;
  // The expert's most confidently routed characters, highest probability first (ties: earlier first).
  std::vector<RoutedWindow> top_windows(int layer, int expert) const;
  int windows_per_expert() const { return windows_per_expert_; }

 private:
  void keep_window(std::vector<RoutedWindow>& heap, float probability, int64_t position, const std::u32string& text,
                   size_t index_in_text);

  int windows_per_expert_ = kWindowsPerExpert;
  int64_t end_ = 0;                            // offset just past the last trace added
  std::u32string tail_;                        // its last kWindowLength - 1 characters
  std::vector<std::vector<std::vector<RoutedWindow>>> windows_;  // [layer][expert]: min-heap, the weakest on top
  int n_experts_ = 0;
  int64_t characters_ = 0;
  std::map<char32_t, int64_t> occurrences_;
  std::vector<std::map<char32_t, std::vector<int64_t>>> layers_;  // [layer][character][expert]
};

}  // namespace moewb
