// metrics.csv of a run: one row per logged or evaluated step. Columns (core/README.md documents them):
// step, elapsed_s, lr, train_loss, tokens_per_sec, eval_train_loss, val_loss, peak_memory_mb, then per MoE layer
// L: L<l>_load_entropy, L<l>_max_share, L<l>_load_cv, L<l>_dead, L<l>_dropped, L<l>_active, L<l>_router_entropy,
// L<l>_load_e<i> and L<l>_importance_e<i> for each expert. Empty cells mean "not measured at this step".
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/trace/routing_trace.h"

namespace moewb {

struct MetricsRow {
  int step = 0;
  double elapsed_s = NAN, lr = NAN, train_loss = NAN, tokens_per_sec = NAN;
  double eval_train_loss = NAN, val_loss = NAN, peak_memory_mb = NAN;
  std::vector<LayerMetrics> layers;  // empty on rows without an evaluation
};

std::vector<std::string> metrics_columns(const Config& c);
std::string format_metrics_row(const Config& c, const MetricsRow& row);

// A parsed metrics.csv: column name -> values (NaN for empty cells), all columns the same length.
struct MetricsTable {
  std::vector<std::string> columns;
  std::map<std::string, std::vector<double>> values;
  size_t rows() const { return values.empty() ? 0 : values.begin()->second.size(); }
  const std::vector<double>& column(const std::string& name) const;  // throws std::out_of_range
};
MetricsTable parse_metrics_csv(const std::string& text);  // throws std::runtime_error on malformed rows
// The table's rows as the trainer wrote them (format_metrics_row read back): a column the table lacks reads as not
// measured (NaN), and a row carries its layers' routing when it holds an evaluation (a validation loss).
std::vector<MetricsRow> metrics_rows(const MetricsTable& table, const Config& c);
// The file's text keeping only rows with step <= last_step (a resumed run drops rows it will redo), one row per
// step (the first), and no torn or unreadable lines.
std::string truncate_metrics_csv(const std::string& text, int last_step);

}  // namespace moewb
