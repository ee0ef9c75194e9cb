#include "ui/routing/stability_heatmap.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

#include "ui/render/routing_figure.h"

namespace moewb {

namespace {
constexpr double kMinRowHeight = 10, kMaxRowHeight = 28;  // rows share the height within these bounds
constexpr double kTop = 4;
constexpr int kMinVisibleRows = 4;  // the view never shrinks below this many rows
}  // namespace

StabilityHeatmap::StabilityHeatmap(QWidget* parent) : HeatmapScrollArea(Qt::ScrollBarAsNeeded, parent) {}

std::unique_ptr<Figure> StabilityHeatmap::exportFigure() const {
  StabilityView view;
  view.title = view_.title;
  view.subtitle = view_.subtitle;
  return std::make_unique<StabilityFigure>(matrix_, view);
}

void StabilityHeatmap::setMatrix(const TopExpertChangeMatrix& matrix) {
  // a new snapshot (one more row) or another layer keeps the current cell; another text or fewer rows drop it
  const bool keep = !matrix.empty() && matrix.text == matrix_.text && view_.pinned_row < matrix.rows();
  matrix_ = matrix;
  if (!keep) view_.pinned_row = -2, view_.pinned_column = -1;
  view_.hovered_row = -2, view_.hovered_column = -1;
  updateMinimumHeight();
  updateScrollBars();
  viewport()->update();
}

void StabilityHeatmap::setDescription(const QString& title, const QString& subtitle) {
  view_.title = title;
  view_.subtitle = subtitle;
}

void StabilityHeatmap::setEmptyMessage(const QString& message) {
  view_.empty_message = message;
  viewport()->update();
}

double StabilityHeatmap::belowGrid() const {
  const FigureStyle style = screen_style(this);
  return routing_char_strip_height(cellWidth(), style) + style.px(12) + style.px(4) +
         stability_legend_height(matrix_, std::max(200, viewport()->width()) - style.px(6), style, viewport()) + style.px(2);
}

StabilityGeometry StabilityHeatmap::geometry() const {
  const FigureStyle style = screen_style(this);
  StabilityGeometry g;
  g.cell_width = cellWidth();
  g.left = gridLeft();
  g.top = kTop;
  g.rows = matrix_.rows();
  g.columns = matrix_.length();
  g.strip = routing_char_strip_height(cellWidth(), style);
  g.summary = style.px(12);
  const double available = std::max(kMinRowHeight, viewport()->height() - g.top - belowGrid());
  g.row_height = std::clamp(g.rows ? available / g.rows : kMaxRowHeight, kMinRowHeight, kMaxRowHeight);
  g.grid_height = std::min(g.rows * g.row_height, available);
  g.scroll_x = horizontalScrollBar()->value();
  g.scroll_y = verticalScrollBar()->value();
  return g;
}

QSize StabilityHeatmap::sizeHint() const {
  return {800, static_cast<int>(kTop + std::max(1, matrix_.rows()) * 18 + belowGrid()) + 4};
}

QSize StabilityHeatmap::minimumSizeHint() const {
  const int rows = std::min(std::max(1, matrix_.rows()), kMinVisibleRows);
  return {200, matrix_.empty() ? 80 : static_cast<int>(kTop + rows * kMinRowHeight + belowGrid()) + 4 +
                                          horizontalScrollBar()->sizeHint().height()};
}

double StabilityHeatmap::gridLeft() const { return stability_label_width(matrix_, screen_style(this), viewport()); }

void StabilityHeatmap::updateScrollBars() {
  const StabilityGeometry g = geometry();
  setColumnScrollRange(g.columns);
  const int overflow_y = static_cast<int>(std::ceil(g.contentHeight() - g.grid_height));
  verticalScrollBar()->setRange(0, std::max(0, overflow_y));
  verticalScrollBar()->setPageStep(std::max(1, static_cast<int>(g.grid_height)));
  verticalScrollBar()->setSingleStep(static_cast<int>(std::ceil(g.row_height)));
}

void StabilityHeatmap::scrollToCell(int row, int column) {
  if (column >= 0) scrollColumnIntoView(column);
  if (row < 0) return;
  const StabilityGeometry g = geometry();
  const double y = row * g.row_height;
  if (y < g.scroll_y) verticalScrollBar()->setValue(static_cast<int>(y));
  else if (y + g.row_height > g.scroll_y + g.grid_height)
    verticalScrollBar()->setValue(static_cast<int>(std::ceil(y + g.row_height - g.grid_height)));
}

void StabilityHeatmap::setCurrentCell(int row, int column) {
  if (matrix_.empty() || column < 0) {
    row = -2, column = -1;
  } else {
    row = std::clamp(row, -1, matrix_.rows() - 1);
    column = std::clamp(column, 0, matrix_.length() - 1);
  }
  if (row == view_.pinned_row && column == view_.pinned_column) return;
  view_.pinned_row = row, view_.pinned_column = column;
  if (column >= 0) scrollToCell(row, column);
  viewport()->update();
  Q_EMIT currentChanged(row, column);
}

void StabilityHeatmap::paintEvent(QPaintEvent*) {
  QPainter p(viewport());
  paint_stability_strip(p, viewport()->rect(), matrix_, geometry(), view_, screen_style(this));
}

void StabilityHeatmap::mouseMoveEvent(QMouseEvent* event) {
  const StabilityGeometry g = geometry();
  const auto cell = g.cellAt(event->position());
  const int row = cell ? cell->row : -2, column = cell ? cell->column : -1;
  if (row != view_.hovered_row || column != view_.hovered_column) {
    view_.hovered_row = row, view_.hovered_column = column;
    viewport()->update();
    Q_EMIT hovered(row, column);
  }
  if (!cell) {
    QToolTip::hideText();
    return;
  }
  showCellTooltip(g.cellRect(cell->row, cell->column), event->position().y(),
                  stability_cell_text(matrix_, cell->row, cell->column, true));
}

void StabilityHeatmap::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return;  // the right button opens the export menu
  const auto cell = geometry().cellAt(event->position());
  if (cell) setCurrentCell(cell->row, cell->column);
}

void StabilityHeatmap::clearHover() {
  if (view_.hovered_column < 0) return;
  view_.hovered_row = -2, view_.hovered_column = -1;
  viewport()->update();
  Q_EMIT hovered(-2, -1);
}

void StabilityHeatmap::scrollWheel(const QWheelEvent& event, double steps) {
  if (verticalScrollBar()->maximum() > 0 && !(event.modifiers() & Qt::ShiftModifier) && event.angleDelta().x() == 0)
    verticalScrollBar()->setValue(verticalScrollBar()->value() - static_cast<int>(steps * 3 * geometry().row_height));
  else
    scrollColumns(event.angleDelta().x() != 0 ? event.angleDelta().x() / 120.0 : steps);
}

void StabilityHeatmap::keyPressEvent(QKeyEvent* event) {
  if (matrix_.empty()) {
    QAbstractScrollArea::keyPressEvent(event);
    return;
  }
  const bool none = view_.pinned_column < 0;
  int row = none ? 0 : view_.pinned_row, column = none ? 0 : view_.pinned_column;
  const int last_row = matrix_.rows() - 1;
  // rows go top to bottom, then the summary band (-1) under them
  // Down from the last row reaches the band; a page down stops at the last row
  auto down = [&](int r, int by) { return r < 0 || (r == last_row && by == 1) ? -1 : std::min(last_row, r + by); };
  auto up = [&](int r, int by) { return r < 0 ? std::max(0, last_row + 1 - by) : std::max(0, r - by); };
  const int page = std::max(1, static_cast<int>(geometry().grid_height / geometry().row_height) - 1);
  const bool ctrl = event->modifiers() & Qt::ControlModifier;
  switch (event->key()) {
    case Qt::Key_Left: column = none ? 0 : column - 1; break;
    case Qt::Key_Right: column = none ? 0 : column + 1; break;
    case Qt::Key_Up: row = none ? 0 : up(row, 1); break;
    case Qt::Key_Down: row = none ? 0 : down(row, 1); break;
    case Qt::Key_PageUp: row = up(row, page); break;
    case Qt::Key_PageDown: row = down(row, page); break;
    case Qt::Key_Home:  // Ctrl: the first row, else the first character
      if (ctrl) row = 0;
      else column = 0;
      break;
    case Qt::Key_End:  // Ctrl: the summary band, else the last character
      if (ctrl) row = -1;
      else column = matrix_.length() - 1;
      break;
    case Qt::Key_Escape: setCurrentCell(-2, -1); return;
    default: QAbstractScrollArea::keyPressEvent(event); return;
  }
  setCurrentCell(row, column);
}

}  // namespace moewb
