#include "core/runs/metrics_csv.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/base/numbers.h"

namespace moewb {

namespace {
int moe_layers(const Config& c) { return c.is_moe() ? c.n_layer : 0; }

std::string cell(double v) { return std::isnan(v) ? std::string() : format_double(v, 7); }

std::vector<std::string> split_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  std::istringstream in(line);
  while (std::getline(in, cur, ',')) cells.push_back(cur);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}
}  // namespace

std::vector<std::string> metrics_columns(const Config& c) {
  std::vector<std::string> cols = {"step", "elapsed_s", "lr", "train_loss", "tokens_per_sec",
                                   "eval_train_loss", "val_loss", "peak_memory_mb"};
  for (int l = 0; l < moe_layers(c); ++l) {
    const std::string p = "L" + std::to_string(l) + "_";
    for (const char* name : {"load_entropy", "max_share", "load_cv", "dead", "dropped", "active", "router_entropy"})
      cols.push_back(p + name);
    for (int e = 0; e < c.n_experts; ++e) cols.push_back(p + "load_e" + std::to_string(e));
    for (int e = 0; e < c.n_experts; ++e) cols.push_back(p + "importance_e" + std::to_string(e));
  }
  return cols;
}

std::string format_metrics_row(const Config& c, const MetricsRow& r) {
  std::vector<std::string> cells = {std::to_string(r.step), cell(r.elapsed_s), cell(r.lr), cell(r.train_loss),
                                    cell(r.tokens_per_sec), cell(r.eval_train_loss), cell(r.val_loss),
                                    cell(r.peak_memory_mb)};
  for (int l = 0; l < moe_layers(c); ++l) {
    const bool has = l < static_cast<int>(r.layers.size());
    const LayerMetrics m = has ? r.layers[l] : LayerMetrics{};
    for (double v : {m.load_entropy, m.max_share, m.load_cv, static_cast<double>(m.dead_experts), m.dropped_fraction,
                     m.mean_active, m.router_entropy})
      cells.push_back(has ? cell(v) : "");
    for (int e = 0; e < c.n_experts; ++e) cells.push_back(has ? cell(m.load.at(e)) : "");
    for (int e = 0; e < c.n_experts; ++e) cells.push_back(has ? cell(m.importance.at(e)) : "");
  }
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + cells[i];
  return line + "\n";
}

const std::vector<double>& MetricsTable::column(const std::string& name) const { return values.at(name); }

MetricsTable parse_metrics_csv(const std::string& text) {
  MetricsTable t;
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) return t;
  t.columns = split_line(line);
  for (const auto& c : t.columns) t.values[c];
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const auto cells = split_line(line);
    if (cells.size() != t.columns.size())
      throw std::runtime_error("metrics.csv line " + std::to_string(line_no) + " has " +
                               std::to_string(cells.size()) + " cells, expected " + std::to_string(t.columns.size()));
    for (size_t i = 0; i < cells.size(); ++i) {
      double v = NAN;
      if (!cells[i].empty()) {
        const auto parsed = parse_double(cells[i]);
        if (!parsed)
          throw std::runtime_error("metrics.csv line " + std::to_string(line_no) + ", column " + t.columns[i] + ": '" +
                                   cells[i] + "' is not a number");
        v = *parsed;
      }
      t.values[t.columns[i]].push_back(v);
    }
  }
  return t;
}

std::string truncate_metrics_csv(const std::string& text, int last_step) {
  std::istringstream in(text);
  std::string line, out;
  bool header = true;
  size_t cells = 0;
  std::set<int64_t> seen;
  while (std::getline(in, line)) {
    const size_t line_cells = static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1;
    if (header) {
      cells = line_cells;
    } else {
      // a torn line (a kill mid-append) has fewer cells; it goes with the rows the resume will redo
      const auto step = parse_int64(std::string_view(line).substr(0, line.find(',')));
      if (line_cells != cells || !step || *step > last_step) continue;
      if (!seen.insert(*step).second) continue;  // one row per step
    }
    out += line + "\n";
    header = false;
  }
  return out;
}

}  // namespace moewb
