#include "ui/routing/routing_heatmap.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>

#include <algorithm>

#include "ui/render/routing_text.h"

namespace moewb {

namespace {
// rows share the view's height (within these bounds), so the heatmap fills the space it has
constexpr double kMinRowHeight = 14, kMaxRowHeight = 120;            // one row per layer
constexpr double kMinDetailRowHeight = 9, kMaxDetailRowHeight = 60;  // one row per expert
constexpr double kLabelWidth = 64;
}  // namespace

RoutingHeatmap::RoutingHeatmap(QWidget* parent) : HeatmapScrollArea(Qt::ScrollBarAlwaysOff, parent) {}

std::unique_ptr<Figure> RoutingHeatmap::exportFigure() const {
  RoutingView view = view_;
  view.hovered = view.pinned = -1;
  if (config_) {
    view.subtitle = trace_subtitle(run_, *config_, trace_);
  } else {
    QStringList subtitle;
    if (!run_.isEmpty()) subtitle << run_;
    if (trace_.step >= 0) subtitle << QString("step %1").arg(trace_.step);
    view.subtitle = subtitle.join(" · ");
  }
  const int layer = shownDetailLayer();
  if (layer >= 0) view.title += QString(", layer %1 experts").arg(layer);
  return std::make_unique<RoutingFigure>(trace_, view);
}

void RoutingHeatmap::setTrace(const RoutingTrace& trace) {
  trace_ = trace;
  if (view_.pinned >= trace_.length()) view_.pinned = -1;
  view_.hovered = -1;
  updateScrollBars();
  updateMinimumHeight();
  viewport()->update();
}

void RoutingHeatmap::setDescription(const QString& title, const QString& run, const std::optional<Config>& config) {
  view_.title = title;
  run_ = run;
  config_ = config;
}

void RoutingHeatmap::setDetailLayer(int layer) {
  view_.detail_layer = layer;
  updateMinimumHeight();
  viewport()->update();
}

void RoutingHeatmap::cellWidthUpdated() {
  updateScrollBars();
  updateMinimumHeight();
}

void RoutingHeatmap::setPinnedColumn(int column) {
  view_.pinned = column;
  viewport()->update();
}

void RoutingHeatmap::showHoveredColumn(int column) {
  if (column == view_.hovered) return;
  view_.hovered = column;
  viewport()->update();
}

void RoutingHeatmap::scrollToColumn(int column) { scrollColumnIntoView(column); }

int RoutingHeatmap::rowCount() const {
  if (trace_.empty()) return 0;
  return shownDetailLayer() >= 0 ? trace_.n_experts : static_cast<int>(trace_.layers.size());
}

double RoutingHeatmap::belowGrid() const {
  const FigureStyle style = screen_style(this);
  return routing_char_strip_height(cellWidth(), style) + style.px(3) +
         routing_legend_height(trace_, view_, std::max(200, viewport()->width()) - style.px(6), style, viewport());
}

HeatmapGeometry RoutingHeatmap::geometry() const {
  HeatmapGeometry g;
  g.cell_width = cellWidth();
  g.left = gridLeft();
  g.top = 4;
  g.scroll_x = horizontalScrollBar()->value();
  g.rows = rowCount();
  g.columns = trace_.length();
  const bool detail = shownDetailLayer() >= 0;
  const double available = viewport()->height() - g.top - belowGrid();
  g.row_height = std::clamp(g.rows ? available / g.rows : kMaxRowHeight, detail ? kMinDetailRowHeight : kMinRowHeight,
                            detail ? kMaxDetailRowHeight : kMaxRowHeight);
  return g;
}

QSize RoutingHeatmap::sizeHint() const {
  const double row = shownDetailLayer() >= 0 ? kMaxDetailRowHeight / 2 : kMaxRowHeight / 4;
  return {800, static_cast<int>(4 + rowCount() * row + belowGrid()) + 4};
}

QSize RoutingHeatmap::minimumSizeHint() const {
  // the whole grid, characters and legend stay visible at the smallest row height; taller views get taller rows
  const double row = shownDetailLayer() >= 0 ? kMinDetailRowHeight : kMinRowHeight;
  return {200, trace_.empty() ? 80 : static_cast<int>(4 + rowCount() * row + belowGrid()) + 4 +
                                          horizontalScrollBar()->sizeHint().height()};
}

double RoutingHeatmap::gridLeft() const { return kLabelWidth; }

void RoutingHeatmap::updateScrollBars() { setColumnScrollRange(trace_.length()); }

void RoutingHeatmap::paintEvent(QPaintEvent*) {
  QPainter p(viewport());
  paint_routing_strip(p, viewport()->rect(), trace_, geometry(), view_, screen_style(this));
}

void RoutingHeatmap::mouseMoveEvent(QMouseEvent* event) {
  const HeatmapGeometry g = geometry();
  const auto cell = g.cellAt(event->position());
  const int column = cell ? cell->column : -1;
  if (column != view_.hovered) {
    view_.hovered = column;
    viewport()->update();
    Q_EMIT hovered(column);
  }
  if (!cell) {
    QToolTip::hideText();
    return;
  }
  const bool detail = shownDetailLayer() >= 0;
  const int layer = detail ? shownDetailLayer() : cell->row;
  showCellTooltip(g.cellRect(cell->row, cell->column), event->position().y(),
                  routing_tooltip(trace_, layer, cell->column, detail ? cell->row : -1));
}

void RoutingHeatmap::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return;  // the right button opens the export menu
  const auto column = geometry().columnAt(event->position().x());
  if (!column) return;
  view_.pinned = view_.pinned == *column ? -1 : *column;
  viewport()->update();
  Q_EMIT pinned(view_.pinned);
}

void RoutingHeatmap::clearHover() {
  if (view_.hovered < 0) return;
  view_.hovered = -1;
  viewport()->update();
  Q_EMIT hovered(-1);
}

void RoutingHeatmap::keyPressEvent(QKeyEvent* event) {
  const int n = trace_.length();
  const int from = view_.pinned >= 0 ? view_.pinned : std::max(0, view_.hovered);
  int to = -1;
  switch (event->key()) {
    case Qt::Key_Left: to = from - 1; break;
    case Qt::Key_Right: to = view_.pinned >= 0 ? from + 1 : from; break;
    case Qt::Key_Home: to = 0; break;
    case Qt::Key_End: to = n - 1; break;
    case Qt::Key_PageUp: Q_EMIT layerStepRequested(-1); return;
    case Qt::Key_PageDown: Q_EMIT layerStepRequested(1); return;
    default: QAbstractScrollArea::keyPressEvent(event); return;
  }
  if (n == 0) return;
  to = std::clamp(to, 0, n - 1);
  setPinnedColumn(to);
  scrollToColumn(to);
  Q_EMIT pinned(to);
}

}  // namespace moewb
