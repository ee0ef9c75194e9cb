// `moewb-cli suite`: the paper's five-run comparison.
#pragma once

#include "app/cli/cli_options.h"

namespace moewb {
Command add_suite(CLI::App& root);
}  // namespace moewb
