// Routing stability per character: for one layer and a sequence of routing snapshots of the same probe text
// (the traces taken at each evaluation), which characters changed their top expert between consecutive
// snapshots, and from which expert to which. The Routing tab's stability heatmap and its CSV are this matrix;
// each row's mean is top_expert_changes() of that pair for the layer. Plain values: no torch, no Qt.
#pragma once

#include <string>
#include <vector>

#include "core/trace/routing_trace.h"

namespace moewb {

// Rows: consecutive snapshot pairs (i, i + 1); columns: characters of the probe text.
struct TopExpertChangeMatrix {
  int layer = -1;
  int n_experts = 0;
  std::u32string text;
  std::vector<int> steps;        // [rows + 1] training step of each snapshot
  std::vector<int> old_experts;  // [rows * length] top expert in the earlier snapshot (-1: every assignment dropped)
  std::vector<int> new_experts;  // [rows * length] top expert in the later snapshot

  int rows() const { return steps.empty() ? 0 : static_cast<int>(steps.size()) - 1; }
  int length() const { return static_cast<int>(text.size()); }
  bool empty() const { return rows() == 0 || length() == 0; }
  int step_before(int row) const { return steps[static_cast<size_t>(row)]; }
  int step_after(int row) const { return steps[static_cast<size_t>(row) + 1]; }
  int old_expert(int row, int t) const { return old_experts[index(row, t)]; }
  int new_expert(int row, int t) const { return new_experts[index(row, t)]; }
  bool changed(int row, int t) const { return old_expert(row, t) != new_expert(row, t); }
  // Share of the characters that changed in a row: top_expert_changes(before, after)[layer].
  double row_share(int row) const;
  // How many times character t changed its top expert over all rows (0 .. rows()).
  int column_changes(int t) const;

 private:
  size_t index(int row, int t) const { return static_cast<size_t>(row) * text.size() + static_cast<size_t>(t); }
};

// The matrix of one layer over consecutive traces. Empty (no rows) when fewer than two traces are given, the
// layer is out of range, or the traces are not all of the same text and model shape (layers, experts): a
// change between different texts means nothing.
TopExpertChangeMatrix top_expert_change_matrix(const std::vector<RoutingTrace>& traces, int layer);

}  // namespace moewb
