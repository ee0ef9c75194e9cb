#include "ui/render/training_figures.h"

#include <algorithm>

#include "core/runs/run_name.h"
#include "ui/render/palette.h"

namespace moewb {

namespace {

QString subtitle(const TrainingFigureOptions& o, int layer = -1) {
  const QString run =
      QString::fromStdString(figure_subtitle(o.run.toStdString(), o.config, -1, TraceCapacity::not_a_trace));
  return layer >= 0 ? run + QString(" · layer %1").arg(layer) : run;
}

// The parts every training chart has: file name, title, whose it is, the y axis and what its numbers mean.
PlotSpec spec(const QString& name, const QString& title, const QString& subtitle, const QString& y_title,
              const QString& y_description) {
  PlotSpec s;
  s.name = name, s.title = title, s.subtitle = subtitle, s.y_title = y_title, s.y_description = y_description;
  return s;
}

PlotSeries series(const QString& name, const QColor& color, const QList<QPointF>& points, double weight = 1.0,
                  bool markers = false) {
  return PlotSeries{name, color, weight, markers, points};
}

}  // namespace

PlotSpec loss_plot(const TrainingHistory& h, const TrainingFigureOptions& o) {
  PlotSpec s = spec("loss", "Loss", subtitle(o), o.log_loss ? "cross-entropy (nats, log scale)" : "cross-entropy (nats)",
                    "cross-entropy in nats; 'train (raw)' = mean training loss since the previous logged step, "
                    "'train' = its debiased exponential moving average (TensorBoard smoothing), 'val' = mean over "
                    "the evaluation batches");
  s.log_y = o.log_loss;
  s.series = {series("train (raw)", series_color::train_raw, h.train_loss, 0.6),
              series("train", series_color::train, smoothed(h.train_loss, o.smoothing)),
              series("val", series_color::val, h.val_loss, 1.0, true)};
  return s;
}

PlotSpec lr_plot(const TrainingHistory& h, const TrainingFigureOptions& o) {
  PlotSpec s = spec("learning_rate", "Learning rate", subtitle(o), "learning rate", "AdamW learning rate (cosine with warm-up)");
  s.series = {series("lr", series_color::neutral, h.lr)};
  return s;
}

PlotSpec throughput_plot(const TrainingHistory& h, const TrainingFigureOptions& o) {
  PlotSpec s = spec("throughput", "Training throughput", subtitle(o), "tokens/s",
                    "training tokens per second since the previous logged step (evaluation time excluded)");
  s.series = {series("tokens/s", series_color::neutral, h.tokens_per_sec)};
  double top = 0;
  for (const auto& p : h.tokens_per_sec) top = std::max(top, p.y());
  if (top > 0) s.y_range = std::make_pair(0.0, top * 1.08);  // throughput reads against zero
  return s;
}

PlotSpec expert_load_plot(const TrainingHistory& h, int layer, int n_experts, const TrainingFigureOptions& o) {
  PlotSpec s = spec(QString("expert_load_L%1").arg(layer), "Expert load", subtitle(o, layer), "load share fᵢ",
                    QString("layer %1: share fᵢ of the router's assignments to expert i over the evaluation "
                            "batches, before capacity drops").arg(layer));
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
  PlotSpec s = spec(QString("load_balance_L%1").arg(layer), "Load balance", subtitle(o, layer), "fraction",
                    QString("layer %1: load entropy H(f)/log N (1 = balanced), max share maxᵢ fᵢ, dropped = "
                            "dropped assignments / assignments").arg(layer));
  s.empty_message = "waiting for the first evaluation";
  const LayerHistory* l = layer >= 0 && layer < h.layers.size() ? &h.layers[layer] : nullptr;
  s.series = {series("load entropy", expert_color(4), l ? l->entropy : QList<QPointF>{}),
              series("max share", expert_color(5), l ? l->max_share : QList<QPointF>{}),
              series("dropped", expert_color(7), l ? l->dropped : QList<QPointF>{})};
  s.y_range = std::make_pair(0.0, 1.05);
  return s;
}

}  // namespace moewb
