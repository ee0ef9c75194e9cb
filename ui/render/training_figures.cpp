#include "training_figures.h"

#include <algorithm>

#include "palette.h"

namespace moewb {

namespace {

QString subtitle(const TrainingFigureOptions& o, int layer = -1) {
  QStringList parts;
  if (!o.run.isEmpty()) parts << "run " + o.run;
  if (layer >= 0) parts << QString("layer %1").arg(layer);
  return parts.join(" · ");
}

PlotSeries series(const QString& name, const QColor& color, const QList<QPointF>& points, double weight = 1.0,
                  bool markers = false) {
  return PlotSeries{name, color, weight, markers, points};
}

}  // namespace

PlotSpec loss_plot(const TrainingHistory& h, const TrainingFigureOptions& o) {
  PlotSpec s;
  s.name = "loss";
  s.title = "Loss";
  s.subtitle = subtitle(o);
  s.y_title = o.log_loss ? "cross-entropy (nats, log scale)" : "cross-entropy (nats)";
  s.y_description = "cross-entropy in nats; 'train (raw)' = mean training loss since the previous logged step, "
                    "'train' = its debiased exponential moving average (TensorBoard smoothing), 'val' = mean over "
                    "the evaluation batches";
  s.log_y = o.log_loss;
  s.series = {series("train (raw)", series_color::train_raw, h.train_loss, 0.6),
              series("train", series_color::train, smoothed(h.train_loss, o.smoothing)),
              series("val", series_color::val, h.val_loss, 1.0, true)};
  return s;
}

PlotSpec lr_plot(const TrainingHistory& h, const TrainingFigureOptions& o) {
  PlotSpec s;
  s.name = "learning_rate";
  s.title = "Learning rate";
  s.subtitle = subtitle(o);
  s.y_title = "learning rate";
  s.y_description = "AdamW learning rate (cosine with warm-up)";
  s.series = {series("lr", series_color::neutral, h.lr)};
  return s;
}

PlotSpec throughput_plot(const TrainingHistory& h, const TrainingFigureOptions& o) {
  PlotSpec s;
  s.name = "throughput";
  s.title = "Training throughput";
  s.subtitle = subtitle(o);
  s.y_title = "tokens/s";
  s.y_description = "training tokens per second since the previous logged step (evaluation time excluded)";
  s.series = {series("tokens/s", series_color::neutral, h.tokens_per_sec)};
  double top = 0;
  for (const auto& p : h.tokens_per_sec) top = std::max(top, p.y());
  if (top > 0) s.y_range = std::make_pair(0.0, top * 1.08);  // throughput reads against zero
  return s;
}

PlotSpec expert_load_plot(const TrainingHistory& h, int layer, int n_experts, const TrainingFigureOptions& o) {
  PlotSpec s;
  s.name = QString("expert_load_L%1").arg(layer);
  s.title = "Expert load";
  s.subtitle = subtitle(o, layer);
  s.y_title = "load share f_i";
  s.y_description = QString("layer %1: share f_i of the router's assignments to expert i over the evaluation batches, "
                            "before capacity drops").arg(layer);
  s.empty_message = "waiting for the first evaluation";
  const LayerHistory* l = layer >= 0 && layer < h.layers.size() ? &h.layers[layer] : nullptr;
  double top = n_experts > 0 ? 1.0 / n_experts : 1.0;
  for (int e = 0; e < n_experts; ++e) {
    const QList<QPointF> points = l && e < l->load.size() ? l->load[e] : QList<QPointF>{};
    for (const auto& p : points) top = std::max(top, p.y());
    s.series << series(QString("E%1").arg(e), expert_color(e), points);
  }
  s.y_range = std::make_pair(0.0, std::min(1.0, top * 1.1));
  return s;
}

PlotSpec load_balance_plot(const TrainingHistory& h, int layer, const TrainingFigureOptions& o) {
  PlotSpec s;
  s.name = QString("load_balance_L%1").arg(layer);
  s.title = "Load balance";
  s.subtitle = subtitle(o, layer);
  s.y_title = "fraction";
  s.y_description = QString("layer %1: load entropy H(f)/log N (1 = balanced), max share max_i f_i, dropped = "
                            "dropped assignments / assignments").arg(layer);
  s.empty_message = "waiting for the first evaluation";
  const LayerHistory* l = layer >= 0 && layer < h.layers.size() ? &h.layers[layer] : nullptr;
  s.series = {series("load entropy", expert_color(4), l ? l->entropy : QList<QPointF>{}),
              series("max share", expert_color(5), l ? l->max_share : QList<QPointF>{}),
              series("dropped", expert_color(7), l ? l->dropped : QList<QPointF>{})};
  s.y_range = std::make_pair(0.0, 1.05);
  return s;
}

}  // namespace moewb
