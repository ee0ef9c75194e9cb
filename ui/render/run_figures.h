// "Export all figures": every figure of a run folder, written into its figures/ folder under fixed names
// (loss, learning_rate, throughput, expert_load_L<l>, load_balance_L<l>, routing_final,
// routing_final_L<l>_experts, affinity_final_L<l>, routing_stability_L<l> once there are two snapshots) with the
// data beside each as .csv and .json.
// Rendered from the files with the widget-free renderers, so the app and `moewb-cli export` write the same
// files; only a QGuiApplication is needed (fonts), no widgets. The subtitles name the run by its display name and
// its routing as the views' own exports do (figure_subtitle, run_name.h).
#pragma once

#include <QList>
#include <QStringList>

#include <memory>
#include <vector>

#include "ui/render/figure_export.h"

namespace moewb {

// One figure of a run as Export all figures writes it.
struct RunFigure {
  QString name;  // file base name
  std::unique_ptr<Figure> figure;
  QSizeF size;   // in centimetres, else logical pixels
  bool centimetres = true;
};

// Every figure of the run, built from its folder's files. Throws std::runtime_error for a folder that is not a run.
std::vector<RunFigure> run_figures(const QString& runDir);

// Returns the files written. Throws std::runtime_error for a folder that is not a run, std::invalid_argument
// for an unknown style.
QStringList export_run_figures(const QString& runDir, const QList<FigureFormat>& formats, int dpi = 200,
                               const QString& style = "paper");

}  // namespace moewb
