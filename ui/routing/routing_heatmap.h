// The routing heatmap of one trace on screen: one line of the text, scrolled and zoomed, painted by the
// widget-free routing renderer (render/routing_figure.h). Overview: one row per layer, colour = top expert,
// paler = lower weight, hatched = capacity dropped an assignment (sigmoid: the number of active experts in the
// cell). Detail (one layer): one row per expert, viridis = probability, dot = chosen, cross-hatched = dropped.
// Rows grow with the view's height; only visible columns are painted, so cost does not grow with text length.
// Its export is the whole text wrapped into lines (RoutingFigure), from the context menu.
#pragma once

#include <optional>

#include "core/trace/routing_trace.h"
#include "ui/render/heatmap_geometry.h"
#include "ui/render/routing_figure.h"
#include "ui/routing/heatmap_scroll_area.h"

namespace moewb {

class RoutingHeatmap : public HeatmapScrollArea {
  Q_OBJECT

 public:
  explicit RoutingHeatmap(QWidget* parent = nullptr);

  std::unique_ptr<Figure> exportFigure() const override;

  void setTrace(const RoutingTrace& trace);
  const RoutingTrace& trace() const { return trace_; }
  // What the exported figure's title says (which text), and whose trace it is: the subtitle names the run, its
  // routing, the trace's step and whether capacity was applied to it (trace_subtitle). Without a configuration
  // only the run and the step.
  void setDescription(const QString& title, const QString& run = {}, const std::optional<Config>& config = {});
  // -1 shows every layer; a layer index shows that layer's experts.
  void setDetailLayer(int layer);
  int detailLayer() const { return view_.detail_layer; }
  // The detail layer when the trace has it, else -1 (all layers).
  int shownDetailLayer() const { return shown_detail_layer(trace_, view_); }
  void setPinnedColumn(int column);
  int pinnedColumn() const { return view_.pinned; }
  int hoveredColumn() const { return view_.hovered; }
  // Outlines a column hovered in another view (the compared heatmap) without emitting hovered().
  void showHoveredColumn(int column);
  void scrollToColumn(int column);
  HeatmapGeometry geometry() const;
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 Q_SIGNALS:
  void hovered(int column);
  void pinned(int column);
  // PgUp / PgDn: the previous (-1) or next (+1) layer.
  void layerStepRequested(int step);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  // Left / Right move the pinned column (Home / End: first / last), PgUp / PgDn step the layer.
  void keyPressEvent(QKeyEvent* event) override;
  double gridLeft() const override;
  void updateScrollBars() override;
  // The minimum height follows the zoom too: the character strip under the grid grows with it.
  void cellWidthUpdated() override;
  void clearHover() override;

 private:
  int rowCount() const;
  double belowGrid() const;  // character strip and legend

  RoutingTrace trace_;
  RoutingView view_;
  QString run_;                    // whose trace: the run's display name
  std::optional<Config> config_;  // and its configuration
};

}  // namespace moewb
