// The Training dock: loss (log-scale option, smoothing), learning rate, throughput, per-layer expert load and
// load-balance charts over steps, tokens or time. Reports are collected as they arrive and drawn on a ~40 ms
// timer in one batch.
#pragma once

#include <QTimer>
#include <QWidget>

#include "ui/common/line_chart.h"
#include "ui/common/meta_types.h"
#include "ui/render/training_figures.h"
#include "ui/render/training_history.h"

class QCheckBox;
class QGridLayout;
class QComboBox;
class QLabel;
class QSlider;

namespace moewb {

// What the charts' x axis counts.
enum class XAxis { steps, tokens, time };

class TrainingPanel : public QWidget {
  Q_OBJECT

 public:
  explicit TrainingPanel(QWidget* parent = nullptr);

  void reset(const Config& config);
  void load(const TrainingHistory& history, const Config& config);
  void addStep(const StepReport& r);
  void addEval(const EvalReport& r);
  void setLogScale(bool on);
  void setSmoothing(double weight);
  // Every chart switches axis (and returns to its automatic range: a zoomed range is in the old unit).
  void setXAxis(XAxis axis);
  XAxis xAxis() const;
  // The run's display name: the charts' subtitles name it and its routing (figure_subtitle, run_name.h).
  void setRunName(const QString& name);
  const TrainingHistory& history() const { return history_; }
  LineChart* lossChart() const { return loss_; }
  QList<LineChart*> charts() const { return {loss_, lr_, throughput_, load_, balance_}; }
  LineChart* loadChart() const { return load_; }
  LineChart* balanceChart() const { return balance_; }
  // Selects the MoE layer of the load and balance charts.
  void showLayer(int layer);
  // Draws pending data now (the timer does this every 40 ms).
  void flush();

 private:
  void redrawLayerCharts();
  TrainingFigureOptions figureOptions() const;
  // A Training figure's spec on the chosen x axis.
  void showSpec(LineChart* chart, PlotSpec spec) const;

  QGridLayout* grid_;
  TrainingHistory history_;
  Config config_;
  QString run_name_;
  bool dirty_ = false;
  QTimer redraw_;
  LineChart *loss_, *lr_, *throughput_, *load_, *balance_;
  QCheckBox* log_scale_;
  QSlider* smoothing_;
  QLabel* smoothing_label_;
  QComboBox* layer_;
  QComboBox* x_axis_;
  QLabel* scalars_;
};

}  // namespace moewb
