// The char x expert affinity matrix of one layer as a figure: rows are the characters of the traced text by
// descending frequency, columns experts, each cell the share of that character's assignments going to the
// expert (viridis, with the percentage when the cell is large enough), with a colour bar.
#pragma once

#include <optional>
#include <utility>

#include "core/trace/routing_trace.h"
#include "ui/render/figure.h"

namespace moewb {

// Where the cells of an affinity figure lie in a target rectangle.
struct AffinityLayout {
  double left = 0, top = 0, cell_w = 0, cell_h = 0, label_w = 0;
  int rows = 0, columns = 0;
  // {row, expert} under a point, if any.
  std::optional<std::pair<int, int>> cellAt(const QPointF& p) const;
};

class AffinityFigure : public Figure {
 public:
  AffinityFigure(AffinityMatrix matrix = {}, int layer = 0, QString subtitle = {})
      : matrix_(std::move(matrix)), layer_(layer), subtitle_(std::move(subtitle)) {}
  const AffinityMatrix& matrix() const { return matrix_; }
  int layer() const { return layer_; }
  const QString& subtitle() const { return subtitle_; }  // whose trace: run, routing, step
  int experts() const { return matrix_.share.empty() ? 0 : static_cast<int>(matrix_.share.front().size()); }

  QString name() const override { return QString("affinity_L%1").arg(layer_); }
  QSizeF naturalSize() const override;
  void paint(QPainter& p, const QRectF& target, const FigureStyle& style) const override;
  QString csv() const override;
  QString json() const override;

  AffinityLayout layout(const QRectF& target, const FigureStyle& style, QPaintDevice* device) const;

 private:
  AffinityMatrix matrix_;
  int layer_ = 0;
  QString subtitle_;
};

}  // namespace moewb
