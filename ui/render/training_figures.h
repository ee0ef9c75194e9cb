// The Training dock's charts as plot specs built from a TrainingHistory. The live panel and the export of a
// run folder call these same functions, so the screen and every exported file show the same figure.
#pragma once

#include "ui/render/plot_figure.h"
#include "ui/render/training_history.h"

namespace moewb {

struct TrainingFigureOptions {
  QString run;             // the run's display name and its configuration: each subtitle names both
  Config config;           // (figure_subtitle in run_name.h)
  double smoothing = 0.6;  // TensorBoard EMA weight of the training loss
  bool log_loss = false;
};

PlotSpec loss_plot(const TrainingHistory& h, const TrainingFigureOptions& o);
PlotSpec lr_plot(const TrainingHistory& h, const TrainingFigureOptions& o);
PlotSpec throughput_plot(const TrainingHistory& h, const TrainingFigureOptions& o);
// Per MoE layer: load share of each of n_experts experts, and the balance scalars.
PlotSpec expert_load_plot(const TrainingHistory& h, int layer, int n_experts, const TrainingFigureOptions& o);
PlotSpec load_balance_plot(const TrainingHistory& h, int layer, const TrainingFigureOptions& o);

}  // namespace moewb
