#include "core/train/derived_run.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/base/files.h"
#include "core/base/numbers.h"
#include "core/runs/run_folder.h"
#include "core/train/training.h"

namespace moewb {

namespace fs = std::filesystem;

namespace {

struct Source {
  std::string run_dir, checkpoint, dataset;
};

Source resolve(const std::string& source) {
  if (source.empty()) throw std::invalid_argument("name the source run (--run DIR) or checkpoint (--checkpoint FILE)");
  Source s;
  s.checkpoint = source_checkpoint(source);
  s.run_dir = fs::is_directory(source) ? source : RunFolder::of_checkpoint(source).dir();
  const std::string run_json = RunFolder(s.run_dir).run_info_file();
  if (!file_exists(run_json))
    throw CheckpointError("'" + s.run_dir + "' is not a run folder (no run.json): the dataset is unknown");
  try {
    s.dataset = nlohmann::json::parse(read_file(run_json)).at("dataset").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(run_json + " is malformed: " + e.what());
  }
  return s;
}

// `base`, or base-2, base-3, ... when a folder of that name exists.
std::string free_dir(const std::string& base) {
  std::string dir = base;
  for (int n = 2; fs::exists(dir); ++n) dir = base + "-" + std::to_string(n);
  return dir;
}

std::string run_name(const std::string& dir) {
  const std::string trimmed = dir.substr(0, dir.find_last_not_of('/') + 1);
  return fs::path(trimmed).filename().string();
}

// Applies the overrides; the keys in `fixed` are refused with `why`.
Config with_overrides(Config c, const std::map<std::string, std::string>& overrides, const std::set<std::string>& fixed,
                      const std::string& why) {
  std::vector<FieldError> errors;
  for (const auto& [key, value] : overrides) {
    if (fixed.count(key))
      errors.push_back({key, why});
    else if (std::string error = apply_override(c, key, value); !error.empty())
      errors.push_back({key, error});
  }
  if (!errors.empty()) throw ConfigError(errors);
  return c;
}

struct Measured {
  InferenceModel model;
  TextDataset data;
  Source source;
  int batches = 0;
  uint64_t seed = 0;
};

Measured open_source(const DerivedRunOptions& o) {
  Measured m;
  m.source = resolve(o.source);
  m.model = InferenceModel::load(m.source.checkpoint, o.device);
  m.data = TextDataset::from_file(m.source.dataset);
  if (!(m.data.vocab == m.model.vocab()))
    throw DatasetError("the source run's dataset " + m.source.dataset + " no longer has the model's characters");
  m.batches = o.eval_batches > 0 ? o.eval_batches : m.model.config().eval_iters;
  m.seed = static_cast<uint64_t>(m.model.config().seed) + 1;  // as `moewb-cli eval`
  return m;
}

// The source and the changed model on the same validation batches, and their parameter counts.
void compare(const Measured& m, const InferenceModel& changed, DerivedRunReport& report,
             const DerivedRunProgress& progress) {
  const char* what = "validation loss before and after";
  if (progress) progress(what, 0, 2);
  report.val_before = m.model.loss(m.data, true, m.batches, m.seed);
  if (progress) progress(what, 1, 2);
  report.val_after = changed.loss(m.data, true, m.batches, m.seed);
  if (progress) progress(what, 2, 2);
  report.parameters_before = m.model.parameter_count();
  report.parameters_after = changed.parameter_count();
}

// Writes the new run folder holding `model` at step 0 with the fine-tuning schedule.
void write_run(const Measured& m, const InferenceModel& model, const Config& config, DerivedRunReport& report,
               nlohmann::json origin) {
  origin["summary"] = report.summary;
  origin["source_run"] = fs::absolute(m.source.run_dir).lexically_normal().string();
  origin["source_checkpoint"] = fs::absolute(m.source.checkpoint).lexically_normal().string();
  origin["validation_loss_before"] = report.val_before;
  origin["validation_loss_after"] = report.val_after;
  origin["validation_batches"] = m.batches;
  origin["parameters_before"] = report.parameters_before;
  origin["parameters_after"] = report.parameters_after;
  auto trainer = Trainer::create(config, m.data, report.out_dir, m.source.dataset, &model, origin.dump());
  trainer->save_latest();
}

}  // namespace

std::string source_checkpoint(const std::string& source) {
  if (!fs::is_directory(source)) {
    if (!fs::exists(source)) throw CheckpointError("'" + source + "' does not exist");
    return source;
  }
  const RunFolder folder(source);
  for (const std::string& checkpoint : {folder.best_checkpoint(), folder.latest_checkpoint()})
    if (file_exists(checkpoint)) return checkpoint;
  throw CheckpointError("'" + source + "' holds no checkpoint (checkpoints/best.pt or latest.pt)");
}

Config finetune_config(Config c, int steps) {
  if (steps < 1) throw std::invalid_argument("fine-tuning needs at least 1 step");
  c.learning_rate = std::max(c.min_lr, c.learning_rate / 10);
  c.min_lr = c.learning_rate / 10;
  c.max_iters = c.lr_decay_iters = steps;
  c.warmup_iters = std::min(c.warmup_iters, steps / 10);
  c.eval_interval = std::max(1, std::min(c.eval_interval, steps / 4));
  return c;
}

DerivedRunReport make_pruned_run(const DerivedRunOptions& o, const PruneRequest& request,
                                 const DerivedRunProgress& progress) {
  const Measured m = open_source(o);
  const Config& source = m.model.config();
  check_prunable(source, request);
  const std::set<std::string> fixed = {"n_layer",   "n_head",       "n_embd",        "block_size", "bias", "ffn",
                                       "n_experts", "expert_shape", "expert_hidden", "routing",    "top_k"};
  // bad overrides are refused before the minutes of measuring, not after
  with_overrides(finetune_config(source, o.finetune_steps), o.overrides, fixed, "comes from the pruned model");

  DerivedRunReport report;
  report.source_checkpoint = m.source.checkpoint;
  const std::string validation = m.data.probe_text(static_cast<int>(m.data.val_size()));
  const auto shares = routing_shares(m.model, validation, [&](int64_t done, int64_t total) {
    if (progress) progress("routing the validation split", done, total);
  });
  std::vector<std::vector<double>> deltas;
  if (request.ranking == PruneRanking::loss)
    deltas = knockout_loss_deltas(m.model, m.data, m.batches, m.seed, [&](int done, int total) {
      if (progress) progress("knocking out each expert", done, total);
    });
  report.plan = plan_pruning(source, shares, request, deltas);
  const InferenceModel pruned = prune_experts(m.model, report.plan.removed);
  compare(m, pruned, report, progress);
  report.out_dir = o.out_dir.empty() ? free_dir(m.source.run_dir + "-pruned") : o.out_dir;

  std::ostringstream summary;
  summary << "pruned from " << run_name(m.source.run_dir) << ": " << report.plan.removed_per_layer() << " of "
          << source.n_experts << " experts per layer, " << report.plan.rule;
  report.summary = summary.str();
  nlohmann::json origin = {{"operation", "prune"},
                           {"rule", report.plan.rule},
                           {"removed", report.plan.removed},
                           {"share", report.plan.share},
                           {"notes", report.plan.notes}};
  if (!report.plan.loss_delta.empty()) origin["knockout_loss_delta"] = report.plan.loss_delta;
  const Config config = with_overrides(finetune_config(pruned.config(), o.finetune_steps), o.overrides, fixed,
                                       "comes from the pruned model");
  write_run(m, pruned, config, report, origin);
  return report;
}

DerivedRunReport make_upcycled_run(const DerivedRunOptions& o, UpcycleMethod method,
                                   const DerivedRunProgress& progress) {
  const Measured m = open_source(o);
  const Config& source = m.model.config();
  if (source.is_moe()) throw std::invalid_argument("upcycling starts from a dense model; this one already has experts");
  const std::set<std::string> fixed = {"n_layer", "n_head", "n_embd",       "block_size",
                                       "bias",    "ffn",    "expert_shape", "expert_hidden"};
  const std::string why = "comes from the dense model (upcycled experts are mlp-shaped)";
  Config moe = with_overrides(source, o.overrides, fixed, why);
  moe.ffn = Ffn::moe;
  if (progress) progress("building the experts", 0, 1);
  const InferenceModel upcycled = upcycle(m.model, moe, method);
  if (progress) progress("building the experts", 1, 1);
  const Config config = with_overrides(finetune_config(upcycled.config(), o.finetune_steps), o.overrides, fixed, why);

  DerivedRunReport report;
  report.source_checkpoint = m.source.checkpoint;
  compare(m, upcycled, report, progress);
  report.out_dir = o.out_dir.empty() ? free_dir(m.source.run_dir + "-upcycled") : o.out_dir;
  const char* how = method == UpcycleMethod::partition ? "partition (MoEfication)" : "copy (sparse upcycling)";
  report.summary = "upcycled from " + run_name(m.source.run_dir) + ": " + how + " into " +
                   std::to_string(config.n_experts) + " experts";
  write_run(m, upcycled, config, report,
            {{"operation", "upcycle"}, {"method", method == UpcycleMethod::partition ? "partition" : "copy"}});
  return report;
}

}  // namespace moewb
