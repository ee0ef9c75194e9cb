#include "core/trace/routing_trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <stdexcept>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/data/text_dataset.h"

namespace moewb {

int LayerTrace::active_count(int t) const {
  int n = 0;
  for (int s = 0; s < slots; ++s) n += (chosen_at(t, s) >= 0 && !dropped_at(t, s)) ? 1 : 0;
  return n;
}

int LayerTrace::top_expert(int t) const {
  int best = -1;
  float best_w = -1;
  for (int s = 0; s < slots; ++s) {
    if (chosen_at(t, s) < 0 || dropped_at(t, s)) continue;
    if (weight_at(t, s) > best_w) best_w = weight_at(t, s), best = chosen_at(t, s);
  }
  return best;
}

bool LayerTrace::any_dropped(int t) const {
  for (int s = 0; s < slots; ++s)
    if (dropped_at(t, s)) return true;
  return false;
}

namespace {
// Appends `values` as a JSON array: floats in their shortest round-trip form (as nlohmann writes them), in the
// C locale (to_chars), non-finite ones as null.
template <typename T>
void append_array(std::string& out, const std::vector<T>& values) {
  out += '[';
  char buffer[32];
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(values[i])) {
        out += "null";
        continue;
      }
    }
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, +values[i]);
    out.append(buffer, error == std::errc() ? end : buffer);
  }
  out += ']';
}
}  // namespace

// Written directly rather than through a json document: a document holds every number as a node (about 50 bytes
// each), so a trace of 1 MB of text needed over a gigabyte to serialise.
std::string RoutingTrace::to_json() const {
  std::string out;
  size_t numbers = 0;
  for (const auto& l : layers) numbers += l.probs.size() + 3 * l.chosen.size();
  out.reserve(64 + 4 * text.size() + 12 * numbers);
  out += "{\"format\":\"moewb-routing-trace-1\",\"step\":" + std::to_string(step);
  out += ",\"routing\":" + nlohmann::json(routing_name()).dump() + ",\"n_experts\":" + std::to_string(n_experts);
  out += std::string(",\"capacity\":") + (capacity ? "true" : "false");
  out += ",\"text\":" + nlohmann::json(encode_utf8(text)).dump() + ",\"layers\":[";
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerTrace& l = layers[i];
    out += i ? ",{" : "{";
    out += "\"slots\":" + std::to_string(l.slots) + ",\"probs\":";
    append_array(out, l.probs);
    out += ",\"chosen\":";
    append_array(out, l.chosen);
    out += ",\"weights\":";
    append_array(out, l.weights);
    out += ",\"dropped\":";
    append_array(out, l.dropped);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string RoutingTrace::routing_name() const { return routing ? name_of(*routing) : "dense"; }

RoutingTrace RoutingTrace::from_json(const std::string& json) {
  try {
    const auto j = nlohmann::json::parse(json);
    RoutingTrace t;
    t.step = j.at("step").get<int>();
    const auto routing = j.at("routing").get<std::string>();
    if (routing != "dense") {
      t.routing = enum_from_name<RoutingMode>(routing);
      if (!t.routing) throw std::runtime_error("malformed routing trace: unknown routing '" + routing + "'");
    }
    t.n_experts = j.at("n_experts").get<int>();
    t.capacity = j.value("capacity", false);
    t.text = decode_utf8(j.at("text").get<std::string>());
    const size_t T = t.text.size();
    for (const auto& jl : j.at("layers")) {
      LayerTrace l;
      l.n_experts = t.n_experts;
      l.slots = jl.at("slots").get<int>();
      l.probs = jl.at("probs").get<std::vector<float>>();
      l.chosen = jl.at("chosen").get<std::vector<int>>();
      l.weights = jl.at("weights").get<std::vector<float>>();
      l.dropped = jl.at("dropped").get<std::vector<uint8_t>>();
      const size_t ts = T * static_cast<size_t>(l.slots);
      if (l.probs.size() != T * t.n_experts || l.chosen.size() != ts || l.weights.size() != ts ||
          l.dropped.size() != ts)
        throw std::runtime_error("layer arrays do not match the text length");
      t.layers.push_back(std::move(l));
    }
    return t;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("malformed routing trace: ") + e.what());
  } catch (const DatasetError& e) {
    throw std::runtime_error(std::string("malformed routing trace: ") + e.what());
  }
}

void LayerStatsAccumulator::add(const std::vector<double>& assigned, const std::vector<double>& probs,
                                double n_tokens, double n_dropped, double n_active, double entropy_sum) {
  if (assignments.empty()) assignments.assign(assigned.size(), 0), prob_sum.assign(probs.size(), 0);
  for (size_t i = 0; i < assigned.size(); ++i) assignments[i] += assigned[i], prob_sum[i] += probs[i];
  tokens += n_tokens, dropped += n_dropped, active += n_active, entropy += entropy_sum;
}

LayerMetrics LayerStatsAccumulator::finish() const {
  LayerMetrics m;
  const size_t n = assignments.size();
  if (n == 0 || tokens <= 0) return m;
  double total = 0;
  for (double a : assignments) total += a;
  const double log_n = n > 1 ? std::log(static_cast<double>(n)) : 1.0;
  double load_h = 0, mean = 1.0 / static_cast<double>(n), var = 0;
  for (size_t i = 0; i < n; ++i) {
    const double f = total > 0 ? assignments[i] / total : 0;
    m.load.push_back(f);
    m.importance.push_back(prob_sum[i] / tokens);
    if (f > 0) load_h -= f * std::log(f);
    var += (f - mean) * (f - mean);
    m.max_share = std::max(m.max_share, f);
    if (f < 1.0 / (10.0 * static_cast<double>(n))) ++m.dead_experts;
  }
  m.load_entropy = n > 1 ? load_h / log_n : 1.0;
  m.load_cv = std::sqrt(var / static_cast<double>(n)) / mean;
  m.dropped_fraction = total > 0 ? dropped / total : 0;
  m.mean_active = active / tokens;
  m.router_entropy = n > 1 ? entropy / tokens / log_n : 0;
  return m;
}

AffinityMatrix affinity(const RoutingTrace& trace, int layer) {
  RoutingCounts counts;
  counts.add(trace);
  return counts.affinity(layer);
}

std::vector<double> top_expert_changes(const RoutingTrace& before, const RoutingTrace& after) {
  if (before.text != after.text || before.layers.size() != after.layers.size() || before.length() == 0) return {};
  std::vector<double> out;
  for (size_t l = 0; l < before.layers.size(); ++l) {
    int changed = 0;
    for (int t = 0; t < before.length(); ++t)
      changed += before.layers[l].top_expert(t) != after.layers[l].top_expert(t) ? 1 : 0;
    out.push_back(static_cast<double>(changed) / before.length());
  }
  return out;
}

namespace {
// The order of an expert profile: higher probability first, then the earlier position.
bool more_confident(const RoutedWindow& a, const RoutedWindow& b) {
  return a.probability > b.probability || (a.probability == b.probability && a.position < b.position);
}
}  // namespace

void RoutingCounts::keep_window(std::vector<RoutedWindow>& heap, float probability, int64_t position,
                                const std::u32string& text, size_t index_in_text) {
  const auto m = static_cast<size_t>(windows_per_expert_);
  if (m == 0) return;
  RoutedWindow candidate{probability, position, {}};
  // heap.front() is the least confident kept window: a full heap takes only a more confident one
  if (heap.size() == m && !more_confident(candidate, heap.front())) return;
  const size_t end = index_in_text + 1, length = static_cast<size_t>(kWindowLength);
  const size_t begin = end > length ? end - length : 0;
  candidate.window = text.substr(begin, end - begin);
  if (heap.size() == m) {
    std::pop_heap(heap.begin(), heap.end(), more_confident);
    heap.back() = std::move(candidate);
  } else {
    heap.push_back(std::move(candidate));
  }
  std::push_heap(heap.begin(), heap.end(), more_confident);
}

void RoutingCounts::add(const RoutingTrace& trace, int64_t offset) {
  if (trace.empty()) return;
  if (layers_.empty()) {
    n_experts_ = trace.n_experts;
    layers_.resize(trace.layers.size());
    windows_.assign(trace.layers.size(), std::vector<std::vector<RoutedWindow>>(static_cast<size_t>(n_experts_)));
  }
  if (trace.n_experts != n_experts_ || trace.layers.size() != layers_.size())
    throw std::invalid_argument("routing counts: traces of different models");
  if (offset < 0) offset = end_;
  // the windows of this piece's first characters reach back into the previous piece when it ends right here
  const std::u32string text = offset == end_ ? tail_ + trace.text : trace.text;
  const size_t lead = text.size() - trace.text.size();
  for (char32_t c : trace.text) ++occurrences_[c];
  characters_ += trace.length();
  for (size_t l = 0; l < layers_.size(); ++l) {
    const LayerTrace& lt = trace.layers[l];
    auto& heaps = windows_[l];
    for (int t = 0; t < trace.length(); ++t) {
      auto& row = layers_[l][trace.text[static_cast<size_t>(t)]];
      if (row.empty()) row.assign(static_cast<size_t>(n_experts_), 0);
      for (int s = 0; s < lt.slots; ++s) {
        const int e = lt.chosen_at(t, s);
        if (e < 0) continue;
        ++row[static_cast<size_t>(e)];
        keep_window(heaps[static_cast<size_t>(e)], lt.prob(t, e), offset + t, text, lead + static_cast<size_t>(t));
      }
    }
  }
  const size_t keep = static_cast<size_t>(kWindowLength - 1);
  tail_ = text.size() > keep ? text.substr(text.size() - keep) : text;
  end_ = offset + trace.length();
}

int64_t RoutingCounts::expert_assignments(int layer, int expert) const {
  if (layer < 0 || layer >= layers() || expert < 0 || expert >= n_experts_) return 0;
  int64_t sum = 0;
  for (const auto& [c, row] : layers_[static_cast<size_t>(layer)]) sum += row[static_cast<size_t>(expert)];
  return sum;
}

int64_t RoutingCounts::layer_assignments(int layer) const {
  int64_t sum = 0;
  for (int e = 0; e < n_experts_; ++e) sum += expert_assignments(layer, e);
  return sum;
}

std::vector<RoutedWindow> RoutingCounts::top_windows(int layer, int expert) const {
  if (layer < 0 || layer >= layers() || expert < 0 || expert >= n_experts_) return {};
  std::vector<RoutedWindow> out = windows_[static_cast<size_t>(layer)][static_cast<size_t>(expert)];
  std::sort(out.begin(), out.end(), more_confident);
  return out;
}

AffinityMatrix RoutingCounts::affinity(int layer) const {
  AffinityMatrix a;
  if (layer < 0 || layer >= layers()) return a;
  std::vector<char32_t> chars;
  for (const auto& [c, row] : layers_[static_cast<size_t>(layer)]) chars.push_back(c);
  std::stable_sort(chars.begin(), chars.end(),
                   [this](char32_t x, char32_t y) { return occurrences_.at(x) > occurrences_.at(y); });
  for (char32_t c : chars) {
    const auto& row = layers_[static_cast<size_t>(layer)].at(c);
    double total = 0;
    for (int64_t v : row) total += static_cast<double>(v);
    std::vector<double> share;
    for (int64_t v : row) share.push_back(total > 0 ? static_cast<double>(v) / total : 0);
    a.characters.push_back(c);
    a.counts.push_back(static_cast<int>(occurrences_.at(c)));
    a.share.push_back(std::move(share));
  }
  return a;
}

int64_t RoutingCounts::occurrences(char32_t c) const {
  const auto it = occurrences_.find(c);
  return it == occurrences_.end() ? 0 : it->second;
}

int64_t RoutingCounts::assignments(int layer, char32_t c, int expert) const {
  if (layer < 0 || layer >= layers() || expert < 0 || expert >= n_experts_) return 0;
  const auto& rows = layers_[static_cast<size_t>(layer)];
  const auto it = rows.find(c);
  return it == rows.end() ? 0 : it->second[static_cast<size_t>(expert)];
}

std::vector<std::pair<char32_t, double>> RoutingCounts::top_characters(int layer, int expert, int count) const {
  std::vector<std::pair<char32_t, double>> out;
  if (layer < 0 || layer >= layers() || expert < 0 || expert >= n_experts_) return out;
  double total = 0;
  for (const auto& [c, row] : layers_[static_cast<size_t>(layer)]) {
    const auto v = static_cast<double>(row[static_cast<size_t>(expert)]);
    total += v;
    if (v > 0) out.emplace_back(c, v);
  }
  for (auto& [c, v] : out) v /= total;
  std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  if (out.size() > static_cast<size_t>(std::max(0, count))) out.resize(static_cast<size_t>(std::max(0, count)));
  return out;
}

}  // namespace moewb
