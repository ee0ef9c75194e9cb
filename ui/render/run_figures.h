// "Export all figures": every figure of a run folder, written into its figures/ folder under fixed names
// (loss, learning_rate, throughput, expert_load_L<l>, load_balance_L<l>, routing_final,
// routing_final_L<l>_experts, affinity_final_L<l>, routing_stability_L<l> once there are two snapshots) with the
// data beside each as .csv and .json.
// Rendered from the files with the widget-free renderers, so the app and `moewb-cli export` write the same
// files; only a QGuiApplication is needed (fonts), no widgets.
#pragma once

#include <QList>
#include <QStringList>

#include "figure_export.h"

namespace moewb {

// Returns the files written. Throws std::runtime_error for a folder that is not a run, std::invalid_argument
// for an unknown style.
QStringList export_run_figures(const QString& runDir, const QList<FigureFormat>& formats, int dpi = 200,
                               const QString& style = "paper");

}  // namespace moewb
