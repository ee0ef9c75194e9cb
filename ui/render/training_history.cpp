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
  // a column the file lacks (edited by hand, or written for another configuration) is "not measured", so a run
  // opens with what it has instead of taking the app down
  const std::vector<double> none;
  auto column = [&](const std::string& name) -> const std::vector<double>& {
    const auto it = table.values.find(name);
    return it == table.values.end() ? none : it->second;
  };
  auto cell = [&](const std::string& name, size_t i) {
    const auto& values = column(name);
    return i < values.size() ? values[i] : NAN;
  };
  const auto& step = column("step");
  auto series = [&](const char* name, QList<QPointF>& out) {
    for (size_t i = 0; i < step.size(); ++i)
      if (const double v = cell(name, i); !std::isnan(v)) out << QPointF(step[i], v);
  };
  series("train_loss", h.train_loss);
  series("val_loss", h.val_loss);
  series("eval_train_loss", h.eval_train_loss);
  series("lr", h.lr);
  series("tokens_per_sec", h.tokens_per_sec);
  series("elapsed_s", h.elapsed);
  if (!config.is_moe()) return h;
  for (size_t i = 0; i < step.size(); ++i) {
    if (std::isnan(cell("val_loss", i))) continue;
    std::vector<LayerMetrics> layers(static_cast<size_t>(config.n_layer));
    for (int l = 0; l < config.n_layer; ++l) {
      const std::string p = "L" + std::to_string(l) + "_";
      LayerMetrics& m = layers[static_cast<size_t>(l)];
      m.load_entropy = cell(p + "load_entropy", i);
      m.max_share = cell(p + "max_share", i);
      m.dropped_fraction = cell(p + "dropped", i);
      m.mean_active = cell(p + "active", i);
      const double dead = cell(p + "dead", i);
      m.dead_experts = std::isnan(dead) ? 0 : static_cast<int>(dead);
      for (int e = 0; e < config.n_experts; ++e) m.load.push_back(cell(p + "load_e" + std::to_string(e), i));
    }
    add_layer_metrics(h.layers, step[i], layers);
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
