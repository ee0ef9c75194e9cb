// `moewb-cli bench`: training and generation speed per routing variant, or data-parallel scaling (--nproc).
#pragma once

#include "app/cli/cli_options.h"

namespace moewb {
// argc/argv: the command line that --nproc starts again in every rank.
Command add_bench(CLI::App& root, int argc, char** argv);
}  // namespace moewb
