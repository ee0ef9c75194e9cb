// `moewb-cli export-pt`, `import-pt` and `export`: weights out to and in from nanoGPT, a run's figures out.
#pragma once

#include "app/cli/cli_options.h"

namespace moewb {
Command add_export_pt(CLI::App& root);
Command add_import_pt(CLI::App& root);
// argc/argv: for the offscreen Qt application that draws the figures (export_cli.h).
Command add_export(CLI::App& root, int argc, char** argv);
}  // namespace moewb
