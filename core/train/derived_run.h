// A new run folder made from an existing run's model: pruned experts or a dense model upcycled into an MoE. The
// folder holds the changed model as its step-0 checkpoint and a fine-tuning schedule, so `resume` (or the app's
// Resume) fine-tunes it like any stopped run; its run.json says what was done to which run. The source run is
// only read.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "core/train/expert_surgery.h"

namespace moewb {

struct DerivedRunOptions {
  std::string source;        // a run folder (its best checkpoint, else latest) or a checkpoint file
  std::string out_dir;       // empty: "<source run>-pruned" / "-upcycled", numbered when taken
  int finetune_steps = 300;  // the new run's max_iters
  int eval_batches = 0;      // validation batches for the before/after loss; 0: the source's eval_iters
  std::map<std::string, std::string> overrides;  // training keys (learning_rate, eval_interval, ...)
  DeviceChoice device = DeviceChoice::automatic;
};

struct DerivedRunReport {
  std::string out_dir, source_checkpoint, summary;
  PrunePlan plan;                        // prune only
  double val_before = 0, val_after = 0;  // mean validation loss on the same batches
  int64_t parameters_before = 0, parameters_after = 0;
};

// Progress of the measuring steps: a phrase ("routing the validation split") and done / total.
using DerivedRunProgress = std::function<void(const std::string& what, int64_t done, int64_t total)>;

// The fine-tuning schedule of a derived model: `steps` iterations, a tenth of the source's peak learning rate
// (at least its final one) decaying to a tenth of that, warm-up of at most a tenth of the steps, about four
// evaluations. `overrides` come last.
Config finetune_config(Config source, int steps);

// Shares come from routing the whole validation split; ranking by loss knocks out every expert in turn.
// Throws std::invalid_argument (an impossible request), CheckpointError, DatasetError or ConfigError.
DerivedRunReport make_pruned_run(const DerivedRunOptions& options, const PruneRequest& request,
                                 const DerivedRunProgress& progress = {});
// The routing keys among the overrides (n_experts, routing, top_k, ...) shape the MoE; the dense model gives the rest.
DerivedRunReport make_upcycled_run(const DerivedRunOptions& options, UpcycleMethod method,
                                   const DerivedRunProgress& progress = {});

// The checkpoint a run folder's model comes from: checkpoints/best.pt, else latest.pt; a file is itself.
std::string source_checkpoint(const std::string& source);

}  // namespace moewb
