#include "ui/render/training_history.h"

#include <cmath>

namespace moewb {

namespace {
void add_layer_metrics(QVector<LayerHistory>& layers, double step, const std::vector<LayerMetrics>& metrics) {
  if (layers.size() < static_cast<int>(metrics.size())) layers.resize(static_cast<int>(metrics.size()));
  for (size_t l = 0; l < metrics.size(); ++l) {
    const LayerMetrics& m = metrics[l];
    LayerHistory& h = layers[static_cast<int>(l)];
    if (h.load.size() < static_cast<int>(m.load.size())) h.load.resize(static_cast<int>(m.load.size()));
    for (size_t e = 0; e < m.load.size(); ++e) h.load[static_cast<int>(e)] << QPointF(step, m.load[e]);
    h.entropy << QPointF(step, m.load_entropy);
    h.max_share << QPointF(step, m.max_share);
    h.dropped << QPointF(step, m.dropped_fraction);
    h.active << QPointF(step, m.mean_active);
    h.dead << QPointF(step, m.dead_experts);
  }
}
}  // namespace

void TrainingHistory::add(const StepReport& r) {
  if (!r.logged) return;
  train_loss << QPointF(r.step, r.loss);
  lr << QPointF(r.step, r.lr);
  tokens_per_sec << QPointF(r.step, r.tokens_per_sec);
  elapsed << QPointF(r.step, r.elapsed_s);
}

void TrainingHistory::add(const EvalReport& r) {
  val_loss << QPointF(r.step, r.val_loss);
  eval_train_loss << QPointF(r.step, r.train_loss);
  elapsed << QPointF(r.step, r.elapsed_s);
  add_layer_metrics(layers, r.step, r.layers);
}

TrainingHistory TrainingHistory::fromMetrics(const MetricsTable& table, const Config& config) {
  TrainingHistory h;
  auto add = [](QList<QPointF>& series, int step, double v) {
    if (!std::isnan(v)) series << QPointF(step, v);
  };
  for (const MetricsRow& r : metrics_rows(table, config)) {
    add(h.train_loss, r.step, r.train_loss);
    add(h.val_loss, r.step, r.val_loss);
    add(h.eval_train_loss, r.step, r.eval_train_loss);
    add(h.lr, r.step, r.lr);
    add(h.tokens_per_sec, r.step, r.tokens_per_sec);
    add(h.elapsed, r.step, r.elapsed_s);
    add_layer_metrics(h.layers, r.step, r.layers);
  }
  return h;
}

QList<QPointF> smoothed(const QList<QPointF>& points, double weight) {
  QList<QPointF> out;
  out.reserve(points.size());
  double last = 0;
  int n = 0;
  for (const auto& p : points) {
    last = last * weight + (1 - weight) * p.y();
    ++n;
    const double debias = 1 - std::pow(weight, n);
    out << QPointF(p.x(), debias > 0 ? last / debias : p.y());
  }
  return out;
}

}  // namespace moewb
