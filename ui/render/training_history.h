// Everything the Training dock plots, as plain series: filled live from the worker's reports or at once from
// a run's metrics.csv, so a reopened run draws exactly what the live run drew.
#pragma once

#include <QList>
#include <QPointF>
#include <QVector>

#include "core/runs/metrics_csv.h"
#include "core/train/training.h"

namespace moewb {

struct LayerHistory {
  QVector<QList<QPointF>> load;  // per expert: load share f_i over eval steps
  QList<QPointF> entropy, max_share, dropped, active, dead;
};

struct TrainingHistory {
  QList<QPointF> train_loss, val_loss, eval_train_loss, lr, tokens_per_sec;
  QList<QPointF> elapsed;  // (step, wall seconds of the run) of every logged step and evaluation, in step order
  QVector<LayerHistory> layers;

  void clear() { *this = TrainingHistory{}; }
  void add(const StepReport& r);
  void add(const EvalReport& r);
  static TrainingHistory fromMetrics(const MetricsTable& table, const Config& config);
};

// TensorBoard's smoothing: exponential moving average with debiasing, weight in [0, 1).
QList<QPointF> smoothed(const QList<QPointF>& points, double weight);

}  // namespace moewb
