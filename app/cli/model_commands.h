// `moewb-cli eval`, `generate`, `trace` and `intervene`: what a run's checkpoint does with text.
#pragma once

#include "app/cli/cli_options.h"

namespace moewb {
Command add_eval(CLI::App& root);
Command add_generate(CLI::App& root);
Command add_trace(CLI::App& root);
Command add_intervene(CLI::App& root);
}  // namespace moewb
