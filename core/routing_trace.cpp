#include "routing_trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <stdexcept>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "text_dataset.h"

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
  out += ",\"routing\":" + nlohmann::json(routing).dump() + ",\"n_experts\":" + std::to_string(n_experts);
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

RoutingTrace RoutingTrace::from_json(const std::string& json) {
  try {
    const auto j = nlohmann::json::parse(json);
    RoutingTrace t;
    t.step = j.at("step").get<int>();
    t.routing = j.at("routing").get<std::string>();
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
  AffinityMatrix a;
  if (layer < 0 || layer >= static_cast<int>(trace.layers.size())) return a;
  const LayerTrace& l = trace.layers[layer];
  std::map<char32_t, std::pair<int, std::vector<double>>> per_char;
  for (int t = 0; t < trace.length(); ++t) {
    auto& [count, assigned] = per_char[trace.text[t]];
    if (assigned.empty()) assigned.assign(trace.n_experts, 0.0);
    ++count;
    for (int s = 0; s < l.slots; ++s)
      if (l.chosen_at(t, s) >= 0) assigned[l.chosen_at(t, s)] += 1.0;
  }
  std::vector<std::pair<char32_t, std::pair<int, std::vector<double>>>> rows(per_char.begin(), per_char.end());
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& x, const auto& y) { return x.second.first > y.second.first; });
  for (auto& [c, row] : rows) {
    double total = 0;
    for (double v : row.second) total += v;
    for (double& v : row.second) v = total > 0 ? v / total : 0;
    a.characters.push_back(c);
    a.counts.push_back(row.first);
    a.share.push_back(row.second);
  }
  return a;
}

}  // namespace moewb
