// The profile of one expert of one layer as a figure: what it receives. The characters making up most of its
// assignments (bars with shares), its most confidently routed characters shown as the 20-character windows of
// text ending at them (aligned on the routed character, which sits on the expert's colour, with the router's
// probability) and its load share over training. The Experts tab paints it and exports it (PNG/SVG/PDF, CSV, JSON).
#pragma once

#include <QList>
#include <QPointF>

#include <utility>
#include <vector>

#include "core/trace/routing_trace.h"
#include "ui/render/figure.h"

namespace moewb {

// Everything the figure shows, as plain values.
struct ExpertProfile {
  int layer = 0, expert = 0, n_experts = 0;
  int64_t assignments = 0;        // router assignments to the expert in its layer
  int64_t layer_assignments = 0;  // to every expert of the layer
  int64_t characters = 0;         // characters counted
  std::vector<std::pair<char32_t, double>> top_characters;  // (character, share of the expert's assignments)
  std::vector<RoutedWindow> windows;                        // most confident first
  QList<QPointF> load;                                      // (step, load share f_i) at each evaluation

  double share() const { return layer_assignments > 0 ? static_cast<double>(assignments) / layer_assignments : 0; }
  // The profile of one expert from routing counts; `load` stays empty (the run's history fills it).
  static ExpertProfile of(const RoutingCounts& counts, int layer, int expert, int top_characters = 12);
};

class ExpertProfileFigure : public Figure {
 public:
  explicit ExpertProfileFigure(ExpertProfile profile = {}, QString subtitle = {})
      : profile_(std::move(profile)), subtitle_(std::move(subtitle)) {}
  const ExpertProfile& profile() const { return profile_; }
  const QString& subtitle() const { return subtitle_; }

  QString name() const override {
    return QString("expert_profile_L%1_E%2").arg(profile_.layer).arg(profile_.expert);
  }
  QSizeF naturalSize() const override { return {1000, 460}; }
  void paint(QPainter& p, const QRectF& target, const FigureStyle& style) const override;
  // One table: kind (window, character, load), layer, expert, rank, window, character, probability, share,
  // position, step; empty cells where a column does not apply.
  QString csv() const override;
  QString json() const override;

 private:
  ExpertProfile profile_;
  QString subtitle_;
};

}  // namespace moewb
