// The reference paper's five-run experiment as one job: dense baseline, softmax MoE, top-2, top-2 with capacity
// 0.5 and 1.0, same seed and data. The suite folder holds suite.json (base config, dataset, variants) and one
// run folder per variant; a stopped or crashed suite continues where it was (finished runs are kept, the
// interrupted one resumes from its checkpoint).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/runs/run_summary.h"
#include "core/train/training.h"

namespace moewb {

struct SuiteVariant {
  std::string folder;  // run folder name inside the suite folder
  Config config;
};

std::vector<SuiteVariant> paper_suite_variants(const Config& base);

struct SuiteProgress {
  int variant = 0;       // 0-based index of the running variant
  int variants = 0;
  std::string folder;
  int step = 0, max_iters = 0;
  double fraction() const {  // overall progress in [0, 1]
    return variants ? (variant + (max_iters ? static_cast<double>(step) / max_iters : 0.0)) / variants : 0.0;
  }
};

class Suite {
 public:
  // Writes suite.json in a new folder; throws ConfigError for a base config invalid for the data.
  static Suite create(const std::string& dir, const Config& base, const std::string& dataset_path);
  // Throws std::runtime_error when dir holds no suite.
  static Suite open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const std::vector<SuiteVariant>& variants() const { return variants_; }
  // A variant is done when its run finished and its generation speed was measured.
  bool variant_done(size_t i) const;
  bool done() const;
  // Trains the variants that are not done, in order; returns false when `stop` became true (the running
  // variant's checkpoint is written). `on_progress` is called when a variant starts and after every step;
  // `on_event` gets each step and evaluation report for live charts.
  bool run(const std::atomic<bool>& stop, const std::function<void(const SuiteProgress&)>& on_progress,
           const std::function<void(const Progress&)>& on_event = {});
  std::vector<RunSummary> summaries() const;  // of the variants that have a run folder

 private:
  std::string dir_, dataset_path_;
  std::vector<SuiteVariant> variants_;
};

}  // namespace moewb
