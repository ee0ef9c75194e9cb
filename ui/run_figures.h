// "Export all figures": every figure of a run folder, written into its figures/ folder under fixed names
// (loss, learning_rate, throughput, expert_load_L<l>, load_balance_L<l>, routing_final,
// routing_final_L<l>_experts, affinity_final_L<l>) with the data beside each as .csv and .json.
// Rendered offscreen from the files, so the GUI and `moewb-cli export` produce the same files.
#pragma once

#include <QList>
#include <QStringList>

#include "figure_export.h"

namespace moewb {

// Returns the files written. Throws std::runtime_error for a folder that is not a run.
QStringList export_run_figures(const QString& runDir, const QList<FigureFormat>& formats, int dpi = 200);

}  // namespace moewb
