// `moewb-cli prune` and `moewb-cli upcycle`: a new run folder from an existing run's model (core/derived_run.h),
// fine-tuned at once or later with `resume`.
#pragma once

#include <functional>

#include "app/cli/cli_options.h"
#include "core/train/training.h"

namespace moewb {
// `train` runs the fine-tuning (the CLI's training loop, which handles Ctrl-C); returns the exit code.
Command add_prune(CLI::App& root, const std::function<int(Trainer&)>& train);
Command add_upcycle(CLI::App& root, const std::function<int(Trainer&)>& train);
}  // namespace moewb
