#include "core/trace/routing_stability.h"

namespace moewb {

double TopExpertChangeMatrix::row_share(int row) const {
  if (length() == 0) return 0;
  int changes = 0;
  for (int t = 0; t < length(); ++t) changes += changed(row, t) ? 1 : 0;
  return static_cast<double>(changes) / length();
}

int TopExpertChangeMatrix::column_changes(int t) const {
  int changes = 0;
  for (int r = 0; r < rows(); ++r) changes += changed(r, t) ? 1 : 0;
  return changes;
}

TopExpertChangeMatrix top_expert_change_matrix(const std::vector<RoutingTrace>& traces, int layer) {
  TopExpertChangeMatrix m;
  m.layer = layer;
  if (traces.size() < 2) return m;
  const RoutingTrace& first = traces.front();
  if (layer < 0 || layer >= static_cast<int>(first.layers.size()) || first.length() == 0) return m;
  for (const RoutingTrace& t : traces)
    if (t.text != first.text || t.layers.size() != first.layers.size() || t.n_experts != first.n_experts ||
        t.layers[static_cast<size_t>(layer)].length() != first.length())
      return m;
  m.n_experts = first.n_experts;
  m.text = first.text;
  const int n = first.length();
  const size_t cells = (traces.size() - 1) * static_cast<size_t>(n);
  m.old_experts.reserve(cells);
  m.new_experts.reserve(cells);
  std::vector<int> previous(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) previous[static_cast<size_t>(t)] = first.layers[static_cast<size_t>(layer)].top_expert(t);
  m.steps.push_back(first.step);
  for (size_t i = 1; i < traces.size(); ++i) {
    const LayerTrace& l = traces[i].layers[static_cast<size_t>(layer)];
    for (int t = 0; t < n; ++t) {
      const int now = l.top_expert(t);
      m.old_experts.push_back(previous[static_cast<size_t>(t)]);
      m.new_experts.push_back(now);
      previous[static_cast<size_t>(t)] = now;
    }
    m.steps.push_back(traces[i].step);
  }
  return m;
}

}  // namespace moewb
