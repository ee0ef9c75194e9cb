// The char x expert affinity matrix of one layer on screen, painted by the widget-free AffinityFigure (the
// same code as its export), in a scroll area when the text has many characters; hovering a cell names the
// character, its count and the share.
#pragma once

#include <QScrollArea>

#include "ui/export/exportable_figure.h"
#include "ui/render/affinity_figure.h"

namespace moewb {

class AffinityView : public QScrollArea, public ExportableFigure {
  Q_OBJECT

 public:
  explicit AffinityView(QWidget* parent = nullptr);
  // subtitle: whose trace it is (run, step), written under the exported figure's title
  void setAffinity(const AffinityMatrix& matrix, int layer = 0, const QString& subtitle = {});
  const AffinityFigure& figure() const { return figure_; }
  std::unique_ptr<Figure> exportFigure() const override { return std::make_unique<AffinityFigure>(figure_); }
  // The tooltip of the cell under a point of the canvas, empty outside the cells.
  QString toolTipAt(const QPoint& canvasPoint) const;
  QWidget* canvas() const { return widget(); }

 private:
  AffinityFigure figure_;
};

}  // namespace moewb
