// `moewb-cli train` and `moewb-cli resume`: a run trained in the foreground, alone or as a data-parallel group.
#pragma once

#include "app/cli/cli_options.h"
#include "core/train/training.h"

namespace moewb {
// argc/argv: the command line that --nproc starts again in every rank.
Command add_train(CLI::App& root, int argc, char** argv);
Command add_resume(CLI::App& root, int argc, char** argv);
// The CLI's training loop (Ctrl-C stops it with a checkpoint; prune and upcycle fine-tune through it too); returns
// the exit code.
int run_training(Trainer& t);
}  // namespace moewb
