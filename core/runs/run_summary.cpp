#include "core/runs/run_summary.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/base/files.h"
#include "core/runs/metrics_csv.h"
#include "core/runs/run_folder.h"
#include "core/runs/run_lock.h"
#include "core/runs/run_name.h"

namespace moewb {

namespace {

// The last measured value of one metric over a run's rows.
template <typename Get>
double last_value(const std::vector<MetricsRow>& rows, Get get) {
  for (auto it = rows.rbegin(); it != rows.rend(); ++it)
    if (const double v = get(*it); !std::isnan(v)) return v;
  return NAN;
}

std::string fixed(double v, int digits) {
  if (std::isnan(v)) return "—";
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

std::string with_percent(double v, double reference, int digits) {
  std::string text = fixed(v, digits);
  if (std::isnan(v) || std::isnan(reference) || reference == 0) return text;
  const double pct = (v - reference) / reference * 100.0;
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << " (" << (pct >= 0 ? "+" : "−") << std::abs(pct) << "%)";
  return text + s.str();
}

std::string signed_fixed(double v, int digits) {
  if (std::isnan(v)) return "—";
  return (v >= 0 ? "+" : "−") + fixed(std::abs(v), digits);
}

}  // namespace

std::string RunSummary::kind() const {
  if (!config.is_moe()) return "dense";
  const std::string n = std::to_string(config.n_experts);
  const std::string shape = config.expert_shape == ExpertShape::linear ? " (linear)" : "";
  if (config.routing != RoutingMode::topk) return name_of(config.routing) + " N=" + n + shape;
  std::string k = "top-" + std::to_string(config.top_k) + " of " + n;
  if (config.use_capacity) k += " cf=" + fixed(config.capacity_factor, 1);
  return k + shape;
}

std::string RunSummary::display_name() const { return run_display_name(meta.name, config, started); }

RunMeta read_run_meta(const std::string& dir) {
  const std::string path = RunFolder(dir).meta_file();
  RunMeta meta;
  if (!file_exists(path)) return meta;
  try {
    const auto j = nlohmann::json::parse(read_file(path));
    meta.name = j.value("name", std::string());
    meta.tags = j.value("tags", std::vector<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + " is malformed: " + e.what());
  }
  return meta;
}

void write_run_meta(const std::string& dir, const RunMeta& meta) {
  const nlohmann::json j = {{"name", meta.name}, {"tags", meta.tags}};
  atomic_write(RunFolder(dir).meta_file(), j.dump(2) + "\n");
}

std::string read_display_name(const std::string& dir) {
  return run_display_name(read_run_meta(dir).name, RunFolder(dir).read_config(), run_start_time(dir));
}

RunSummary summarize_run(const std::string& dir) {
  const RunFolder folder(dir);
  RunSummary s;
  s.dir = dir;
  const auto slash = dir.find_last_of('/');
  s.name = slash == std::string::npos ? dir : dir.substr(slash + 1);
  s.meta = read_run_meta(dir);
  s.started = run_start_time(dir);
  std::vector<int> experts_per_rank;  // of each session on several ranks
  if (file_exists(folder.run_info_file())) {
    const auto run = folder.read_run_info();
    try {
      s.parameters = run.value("parameters", int64_t{0});
      if (run.contains("derived_from")) s.derived_from = run["derived_from"].value("summary", std::string());
      if (run.contains("data_parallel"))
        for (const auto& session : run["data_parallel"]) {
          s.ranks = std::max(s.ranks, session.value("world_size", 1));
          experts_per_rank.push_back(session.value("experts_per_rank", 0));
        }
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(folder.run_info_file() + " is malformed: " + e.what());
    }
  }
  s.config = folder.read_config();
  for (int held : experts_per_rank) s.experts_split = s.experts_split || (held > 0 && held < s.config.n_experts);
  const std::vector<MetricsRow> rows = metrics_rows(folder.read_metrics(), s.config);
  if (!rows.empty()) s.last_step = rows.back().step;
  s.finished = !rows.empty() && s.last_step >= s.config.max_iters;
  s.status = run_folder_locked(dir)                        ? RunStatus::training
             : s.finished                                  ? RunStatus::finished
             : file_exists(folder.latest_checkpoint())     ? RunStatus::stopped
                                                           : RunStatus::empty;
  if (rows.empty()) return s;
  double best = NAN;
  for (const MetricsRow& r : rows)
    if (!std::isnan(r.val_loss) && (std::isnan(best) || r.val_loss < best)) best = r.val_loss;
  s.best_val = best;
  s.final_val = last_value(rows, [](const MetricsRow& r) { return r.val_loss; });
  s.final_train = last_value(rows, [](const MetricsRow& r) { return r.eval_train_loss; });
  s.training_time_s = last_value(rows, [](const MetricsRow& r) { return r.elapsed_s; });
  double sum = 0;
  int n = 0;
  for (const MetricsRow& r : rows)
    if (!std::isnan(r.tokens_per_sec)) sum += r.tokens_per_sec, ++n;
  s.train_tokens_per_sec = n ? sum / n : NAN;
  if (s.config.is_moe()) {
    double dropped = 0, entropy = 0;
    for (int l = 0; l < s.config.n_layer; ++l) {
      auto layer = [l](const MetricsRow& r) -> const LayerMetrics* {
        return l < static_cast<int>(r.layers.size()) ? &r.layers[static_cast<size_t>(l)] : nullptr;
      };
      dropped += last_value(rows, [&](const MetricsRow& r) { return layer(r) ? layer(r)->dropped_fraction : NAN; });
      entropy += last_value(rows, [&](const MetricsRow& r) { return layer(r) ? layer(r)->load_entropy : NAN; });
    }
    s.mean_dropped = dropped / s.config.n_layer;
    s.mean_load_entropy = entropy / s.config.n_layer;
  }
  if (file_exists(folder.summary_file())) {
    try {
      s.generation_tokens_per_sec =
          nlohmann::json::parse(read_file(folder.summary_file())).at("generation_tokens_per_sec").get<double>();
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(folder.summary_file() + " is malformed: " + e.what());
    }
  }
  return s;
}

void write_generation_speed(const std::string& dir, double tokens_per_sec, int characters) {
  nlohmann::json j = {{"generation_tokens_per_sec", tokens_per_sec},
                      {"convention", "characters per second, KV cache, batch 1, " + std::to_string(characters) +
                                         " characters"}};
  atomic_write(RunFolder(dir).summary_file(), j.dump(2) + "\n");
}

// ---------------------------------------------------------------------------------------------------
Table comparison_table(const std::vector<RunSummary>& runs) {
  Table t;
  t.header = {"Model", "Best val loss", "Training time (s)", "Generation (chars/s)", "Final train loss",
              "Final val loss", "Train–val gap", "Dropped", "Load entropy"};
  const RunSummary* dense = nullptr;
  for (const auto& r : runs)
    if (!r.config.is_moe()) {
      dense = &r;
      break;
    }
  for (const auto& r : runs) {
    const bool ref = dense && &r != dense;
    t.rows.push_back({r.kind(), ref ? with_percent(r.best_val, dense->best_val, 4) : fixed(r.best_val, 4),
                      ref ? with_percent(r.training_time_s, dense->training_time_s, 1) : fixed(r.training_time_s, 1),
                      ref ? with_percent(r.generation_tokens_per_sec, dense->generation_tokens_per_sec, 1)
                          : fixed(r.generation_tokens_per_sec, 1),
                      fixed(r.final_train, 3), fixed(r.final_val, 3), signed_fixed(r.gap(), 3),
                      fixed(r.mean_dropped, 3), fixed(r.mean_load_entropy, 3)});
  }
  return t;
}

Table paper_table() {
  Table t;
  t.header = {"Model (paper)", "Best val loss", "Training time (s)", "Inference (tokens/s)", "Final train loss",
              "Final val loss", "Train–val gap"};
  t.rows = {{"Baseline", "1.4739", "287.9", "441.3", "1.387", "1.474", "+0.087"},
            {"MoE Base", "1.4764 (+0.17%)", "434.0 (+50.7%)", "250.9 (−43.1%)", "1.634", "1.476", "−0.158"},
            {"MoE Top-2", "1.4718 (−0.14%)", "460.5 (+60.0%)", "224.7 (−49.1%)", "1.612", "1.472", "−0.140"},
            {"MoE Capacity 0.5", "1.4718 (−0.14%)", "463.3 (+60.9%)", "196.9 (−55.4%)", "1.618", "1.472", "−0.146"},
            {"MoE Capacity 1.0", "1.4718 (−0.14%)", "463.3 (+60.9%)", "195.0 (−55.8%)", "1.615", "1.472", "−0.143"}};
  return t;
}

std::string Table::to_csv() const {
  auto quote = [](const std::string& cell) {
    if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
    std::string q = "\"";
    for (char c : cell) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + quote(cells[i]);
    out += "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

std::string Table::to_markdown() const {
  std::string out = "|";
  for (const auto& h : header) out += " " + h + " |";
  out += "\n|";
  for (size_t i = 0; i < header.size(); ++i) out += i == 0 ? "---|" : "---:|";
  out += "\n";
  for (const auto& r : rows) {
    out += "|";
    for (const auto& c : r) out += " " + c + " |";
    out += "\n";
  }
  return out;
}

std::string Table::to_latex(const std::string& caption) const {
  auto escape = [](const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '%' || c == '&' || c == '_' || c == '#') out += std::string("\\") + c;
      else out += c;
    }
    // typographic minus and en dash from the other formats
    std::string result;
    for (size_t i = 0; i < out.size(); ++i) {
      if (out.compare(i, 3, "−") == 0) result += "$-$", i += 2;
      else if (out.compare(i, 3, "–") == 0) result += "--", i += 2;
      else if (out.compare(i, 3, "—") == 0) result += "---", i += 2;
      else result += out[i];
    }
    return result;
  };
  std::string out = "\\begin{table}[t]\n\\centering\n\\begin{tabular}{l";
  for (size_t i = 1; i < header.size(); ++i) out += "r";
  out += "}\n\\hline\n";
  for (size_t i = 0; i < header.size(); ++i) out += (i ? " & " : "") + escape(header[i]);
  out += " \\\\\n\\hline\n";
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) out += (i ? " & " : "") + escape(r[i]);
    out += " \\\\\n";
  }
  out += "\\hline\n\\end{tabular}\n\\caption{" + escape(caption) + "}\n\\end{table}\n";
  return out;
}

}  // namespace moewb
