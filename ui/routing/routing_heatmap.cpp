#include "ui/routing/routing_heatmap.h"

#include <QCursor>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>

#include <algorithm>
#include <cmath>

#include "ui/render/routing_text.h"

namespace moewb {

namespace {
// rows share the view's height (within these bounds), so the heatmap fills the space it has
constexpr double kMinRowHeight = 14, kMaxRowHeight = 120;            // one row per layer
constexpr double kMinDetailRowHeight = 9, kMaxDetailRowHeight = 60;  // one row per expert
constexpr double kLabelWidth = 64;
constexpr double kMinCell = 3, kMaxCell = 48;
}  // namespace

RoutingHeatmap::RoutingHeatmap(QWidget* parent) : QAbstractScrollArea(parent) {
  install_export_menu(this, this);
  setMouseTracking(true);
  viewport()->setMouseTracking(true);
  setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  setFrameShape(QFrame::NoFrame);
  setFocusPolicy(Qt::StrongFocus);  // arrows move the pinned column once the heatmap was clicked
  connect(horizontalScrollBar(), &QScrollBar::valueChanged, viewport(), qOverload<>(&QWidget::update));
}

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
  updateScrollBar();
  updateHeight();
  viewport()->update();
}

void RoutingHeatmap::setDescription(const QString& title, const QString& run, const std::optional<Config>& config) {
  view_.title = title;
  run_ = run;
  config_ = config;
}

void RoutingHeatmap::setDetailLayer(int layer) {
  view_.detail_layer = layer;
  updateHeight();
  viewport()->update();
}

void RoutingHeatmap::setCellWidth(double pixels) {
  cell_width_ = std::clamp(pixels, kMinCell, kMaxCell);
  updateScrollBar();
  updateHeight();
  viewport()->update();
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

void RoutingHeatmap::scrollToColumn(int column) {
  const HeatmapGeometry g = geometry();
  const double x = column * g.cell_width;
  const double visible = viewport()->width() - g.left;
  if (x < g.scroll_x || x + g.cell_width > g.scroll_x + visible)
    horizontalScrollBar()->setValue(static_cast<int>(x - visible / 2));
}

int RoutingHeatmap::rowCount() const {
  if (trace_.empty()) return 0;
  return shownDetailLayer() >= 0 ? trace_.n_experts : static_cast<int>(trace_.layers.size());
}

double RoutingHeatmap::belowGrid() const {
  const FigureStyle style = screen_style(this);
  return routing_char_strip_height(cell_width_, style) + style.px(3) +
         routing_legend_height(trace_, view_, std::max(200, viewport()->width()) - style.px(6), style, viewport());
}

HeatmapGeometry RoutingHeatmap::geometry() const {
  HeatmapGeometry g;
  g.cell_width = cell_width_;
  g.left = kLabelWidth;
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
  const double row = shownDetailLayer() >= 0 ? kMinDetailRowHeight : kMinRowHeight;
  return {200, trace_.empty() ? 80 : static_cast<int>(4 + rowCount() * row + belowGrid()) + 4 +
                                          horizontalScrollBar()->sizeHint().height()};
}

void RoutingHeatmap::updateHeight() {
  // the whole grid, characters and legend stay visible at the smallest row height; taller views get taller rows
  setMinimumHeight(minimumSizeHint().height());
  updateGeometry();
}

void RoutingHeatmap::updateScrollBar() {
  const HeatmapGeometry g = geometry();
  const int overflow = static_cast<int>(std::ceil(g.gridWidth() - (viewport()->width() - g.left)));
  horizontalScrollBar()->setRange(0, std::max(0, overflow));
  horizontalScrollBar()->setPageStep(std::max(1, viewport()->width() - static_cast<int>(g.left)));
  horizontalScrollBar()->setSingleStep(static_cast<int>(std::ceil(g.cell_width)));
}

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
  // beside the highlighted column, never over it
  const QRectF rect = g.cellRect(cell->row, cell->column);
  const QPoint at = viewport()->mapToGlobal(
      QPoint(static_cast<int>(rect.right()) + 10, static_cast<int>(event->position().y()) - 16));
  QToolTip::showText(at, routing_tooltip(trace_, layer, cell->column, detail ? cell->row : -1), viewport(),
                     rect.toRect());
}

void RoutingHeatmap::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return;  // the right button opens the export menu
  const auto column = geometry().columnAt(event->position().x());
  if (!column) return;
  view_.pinned = view_.pinned == *column ? -1 : *column;
  viewport()->update();
  Q_EMIT pinned(view_.pinned);
}

void RoutingHeatmap::leaveEvent(QEvent*) {
  // a tooltip appearing under the cursor also "leaves" the viewport: keep the hover while the cursor is inside
  if (view_.hovered < 0 || viewport()->rect().contains(viewport()->mapFromGlobal(QCursor::pos()))) return;
  view_.hovered = -1;
  viewport()->update();
  Q_EMIT hovered(-1);
}

void RoutingHeatmap::wheelEvent(QWheelEvent* event) {
  const double steps = event->angleDelta().y() / 120.0;
  if (event->modifiers() & Qt::ControlModifier) {
    // zoom around the character under the cursor
    const HeatmapGeometry g = geometry();
    const double anchor = (event->position().x() - g.left + g.scroll_x) / g.cell_width;
    setCellWidth(cell_width_ * std::pow(1.15, steps));
    horizontalScrollBar()->setValue(static_cast<int>(anchor * cell_width_ - (event->position().x() - g.left)));
    Q_EMIT cellWidthChanged(cell_width_);
  } else {
    horizontalScrollBar()->setValue(horizontalScrollBar()->value() - static_cast<int>(steps * 3 * cell_width_));
  }
  event->accept();
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

void RoutingHeatmap::resizeEvent(QResizeEvent* event) {
  QAbstractScrollArea::resizeEvent(event);
  updateScrollBar();
}

}  // namespace moewb
