// The routing heatmap of one trace. Overview: one row per layer, one column per character, colour = top
// expert, intensity = its weight, hatching = capacity dropped an assignment (sigmoid: the number of active
// experts is written in the cell). Detail (one layer): one row per expert, viridis = probability, dot = chosen,
// hatching = dropped. Only visible columns are painted, so cost does not grow with text length.
#pragma once

#include <QAbstractScrollArea>

#include "exportable_figure.h"
#include "heatmap_geometry.h"
#include "routing_trace.h"

namespace moewb {

class RoutingHeatmap : public QAbstractScrollArea, public ExportableFigure {
  Q_OBJECT

 public:
  explicit RoutingHeatmap(QWidget* parent = nullptr);

  QString figureName() const override;
  QSize naturalSize() const override;
  void paintFigure(QPainter& p, const QRect& target) override { render(p, target, true); }
  QString dataCsv() const override;
  QString dataJson() const override;

  void setTrace(const RoutingTrace& trace);
  const RoutingTrace& trace() const { return trace_; }
  // -1 shows every layer; a layer index shows that layer's experts.
  void setDetailLayer(int layer);
  int detailLayer() const { return detail_layer_; }
  // The detail layer when the trace has it, else -1 (all layers).
  int shownDetailLayer() const;
  void setCellWidth(double pixels);
  double cellWidth() const { return cell_width_; }
  void setPinnedColumn(int column);
  int pinnedColumn() const { return pinned_; }
  int hoveredColumn() const { return hovered_; }
  // Outlines a column hovered in another view (the compared heatmap) without emitting hovered().
  void showHoveredColumn(int column);
  void scrollToColumn(int column);
  HeatmapGeometry geometry() const;
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;
  // Paints the heatmap with its legend: the visible part (screen) or the whole text fitted to the target's
  // width (export). The same code draws both.
  void render(QPainter& p, const QRect& target, bool wholeText) const;

 Q_SIGNALS:
  void hovered(int column);
  void pinned(int column);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  void updateScrollBar();
  void updateHeight();
  int rowCount() const;
  void paintGrid(QPainter& p, const HeatmapGeometry& g, int first, int last) const;

  RoutingTrace trace_;
  int detail_layer_ = -1;
  double cell_width_ = 14;
  int hovered_ = -1, pinned_ = -1;
};

}  // namespace moewb
