// `moewb-cli export`: renders a run's figures offscreen with the widget-free renderers (Qt Gui, no widgets).
#pragma once

#include <string>

namespace moewb {
// formats: comma-separated png,svg,pdf; style: paper, paper-serif or screen. Returns the exit code; prints
// what it wrote or why it failed.
int export_run_cli(int argc, char** argv, const std::string& run_dir, const std::string& formats, int dpi,
                   const std::string& style);
}
