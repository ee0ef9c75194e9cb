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

// The one list of metrics.csv's columns: the writer, the header and the reader all walk it, so a column is
// named in this file alone. A run's own columns come first, then each MoE layer's, then its experts'.
struct RunColumn {
  const char* name;
  double MetricsRow::*value;
};
constexpr RunColumn kRunColumns[] = {
    {"elapsed_s", &MetricsRow::elapsed_s},          {"lr", &MetricsRow::lr},
    {"train_loss", &MetricsRow::train_loss},        {"tokens_per_sec", &MetricsRow::tokens_per_sec},
    {"eval_train_loss", &MetricsRow::eval_train_loss}, {"val_loss", &MetricsRow::val_loss},
    {"peak_memory_mb", &MetricsRow::peak_memory_mb}};

struct LayerColumn {
  const char* name;
  double (*get)(const LayerMetrics&);
  void (*set)(LayerMetrics&, double);
};
const LayerColumn kLayerColumns[] = {
    {"load_entropy", [](const LayerMetrics& m) { return m.load_entropy; }, [](LayerMetrics& m, double v) { m.load_entropy = v; }},
    {"max_share", [](const LayerMetrics& m) { return m.max_share; }, [](LayerMetrics& m, double v) { m.max_share = v; }},
    {"load_cv", [](const LayerMetrics& m) { return m.load_cv; }, [](LayerMetrics& m, double v) { m.load_cv = v; }},
    {"dead", [](const LayerMetrics& m) { return static_cast<double>(m.dead_experts); },
     [](LayerMetrics& m, double v) { m.dead_experts = std::isnan(v) ? 0 : static_cast<int>(v); }},
    {"dropped", [](const LayerMetrics& m) { return m.dropped_fraction; }, [](LayerMetrics& m, double v) { m.dropped_fraction = v; }},
    {"active", [](const LayerMetrics& m) { return m.mean_active; }, [](LayerMetrics& m, double v) { m.mean_active = v; }},
    {"router_entropy", [](const LayerMetrics& m) { return m.router_entropy; }, [](LayerMetrics& m, double v) { m.router_entropy = v; }}};

std::string layer_prefix(int l) { return "L" + std::to_string(l) + "_"; }
std::string expert_column(int l, const char* what, int e) { return layer_prefix(l) + what + std::to_string(e); }
}  // namespace

std::vector<std::string> metrics_columns(const Config& c) {
  std::vector<std::string> cols = {"step"};
  for (const RunColumn& col : kRunColumns) cols.push_back(col.name);
  for (int l = 0; l < moe_layers(c); ++l) {
    for (const LayerColumn& col : kLayerColumns) cols.push_back(layer_prefix(l) + col.name);
    for (int e = 0; e < c.n_experts; ++e) cols.push_back(expert_column(l, "load_e", e));
    for (int e = 0; e < c.n_experts; ++e) cols.push_back(expert_column(l, "importance_e", e));
  }
  return cols;
}

std::string format_metrics_row(const Config& c, const MetricsRow& r) {
  std::vector<std::string> cells = {std::to_string(r.step)};
  for (const RunColumn& col : kRunColumns) cells.push_back(cell(r.*col.value));
  for (int l = 0; l < moe_layers(c); ++l) {
    const bool has = l < static_cast<int>(r.layers.size());
    const LayerMetrics m = has ? r.layers[l] : LayerMetrics{};
    for (const LayerColumn& col : kLayerColumns) cells.push_back(has ? cell(col.get(m)) : "");
    for (int e = 0; e < c.n_experts; ++e) cells.push_back(has ? cell(m.load.at(e)) : "");
    for (int e = 0; e < c.n_experts; ++e) cells.push_back(has ? cell(m.importance.at(e)) : "");
  }
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + cells[i];
  return line + "\n";
}

std::vector<MetricsRow> metrics_rows(const MetricsTable& t, const Config& c) {
  // a column the file lacks (edited by hand, or written for another configuration) reads as "not measured", so a
  // run opens with what it has
  auto column = [&](const std::string& name) -> const std::vector<double>* {
    const auto it = t.values.find(name);
    return it == t.values.end() ? nullptr : &it->second;
  };
  auto at = [](const std::vector<double>* values, size_t i) { return values && i < values->size() ? (*values)[i] : NAN; };
  const auto* steps = column("step");
  std::vector<MetricsRow> rows(steps ? steps->size() : 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    MetricsRow& r = rows[i];
    r.step = static_cast<int>((*steps)[i]);
    for (const RunColumn& col : kRunColumns) r.*col.value = at(column(col.name), i);
    if (std::isnan(r.val_loss)) continue;  // routing is measured with the evaluation
    for (int l = 0; l < moe_layers(c); ++l) {
      LayerMetrics m;
      for (const LayerColumn& col : kLayerColumns) col.set(m, at(column(layer_prefix(l) + col.name), i));
      for (int e = 0; e < c.n_experts; ++e) {
        m.load.push_back(at(column(expert_column(l, "load_e", e)), i));
        m.importance.push_back(at(column(expert_column(l, "importance_e", e)), i));
      }
      r.layers.push_back(std::move(m));
    }
  }
  return rows;
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
