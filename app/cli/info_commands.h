// `moewb-cli presets` and `moewb-cli keys`: what a config can be, printed.
#pragma once

#include "app/cli/cli_options.h"

namespace moewb {
Command add_presets(CLI::App& root);
Command add_keys(CLI::App& root);
}  // namespace moewb
