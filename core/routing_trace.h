// Routing as plain values: what each MoE layer did with each character (RoutingTrace), the per-layer
// load-balance metrics of an evaluation (LayerMetrics) and the char x expert affinity matrix. These cross
// threads and files freely: no torch, no Qt.
#pragma once

#include <cstdint>
#include <string>
#include <map>
#include <vector>

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
  std::string routing;              // routing mode of the model
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

// Router assignments per layer, character and expert, summed over any number of traces: the whole validation
// split routed in slices gives statistics of the data rather than of one probe text, in bounded memory.
class RoutingCounts {
 public:
  void add(const RoutingTrace& trace);
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

 private:
  int n_experts_ = 0;
  int64_t characters_ = 0;
  std::map<char32_t, int64_t> occurrences_;
  std::vector<std::map<char32_t, std::vector<int64_t>>> layers_;  // [layer][character][expert]
};

}  // namespace moewb
