#include "ui/routing/heatmap_scroll_area.h"

#include <QCursor>
#include <QScrollBar>
#include <QToolTip>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace moewb {

namespace {
constexpr double kMinCell = 3, kMaxCell = 48;
}  // namespace

HeatmapScrollArea::HeatmapScrollArea(Qt::ScrollBarPolicy vertical, QWidget* parent) : QAbstractScrollArea(parent) {
  install_export_menu(this, this);
  setMouseTracking(true);
  viewport()->setMouseTracking(true);
  setVerticalScrollBarPolicy(vertical);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  setFrameShape(QFrame::NoFrame);
  setFocusPolicy(Qt::StrongFocus);  // the keys move the current cell once the heatmap was clicked
  connect(horizontalScrollBar(), &QScrollBar::valueChanged, viewport(), qOverload<>(&QWidget::update));
  connect(verticalScrollBar(), &QScrollBar::valueChanged, viewport(), qOverload<>(&QWidget::update));
}

void HeatmapScrollArea::setCellWidth(double pixels) {
  cell_width_ = std::clamp(pixels, kMinCell, kMaxCell);
  cellWidthUpdated();
  viewport()->update();
}

void HeatmapScrollArea::setColumnScrollRange(int columns) {
  const double left = gridLeft();
  const int overflow = static_cast<int>(std::ceil(cell_width_ * columns - (viewport()->width() - left)));
  horizontalScrollBar()->setRange(0, std::max(0, overflow));
  horizontalScrollBar()->setPageStep(std::max(1, viewport()->width() - static_cast<int>(left)));
  horizontalScrollBar()->setSingleStep(static_cast<int>(std::ceil(cell_width_)));
}

void HeatmapScrollArea::scrollColumnIntoView(int column) {
  const double x = column * cell_width_, visible = viewport()->width() - gridLeft();
  const double scroll_x = horizontalScrollBar()->value();
  if (x < scroll_x || x + cell_width_ > scroll_x + visible)
    horizontalScrollBar()->setValue(static_cast<int>(x - visible / 2));
}

void HeatmapScrollArea::scrollColumns(double steps) {
  horizontalScrollBar()->setValue(horizontalScrollBar()->value() - static_cast<int>(steps * 3 * cell_width_));
}

void HeatmapScrollArea::updateMinimumHeight() {
  setMinimumHeight(minimumSizeHint().height());
  updateGeometry();
}

void HeatmapScrollArea::showCellTooltip(const QRectF& cell, double y, const QString& text) {
  const QPoint at = viewport()->mapToGlobal(QPoint(static_cast<int>(cell.right()) + 10, static_cast<int>(y) - 16));
  QToolTip::showText(at, text, viewport(), cell.toRect());
}

void HeatmapScrollArea::leaveEvent(QEvent*) {
  // a tooltip appearing under the cursor also "leaves" the viewport: keep the hover while the cursor is inside
  if (!viewport()->rect().contains(viewport()->mapFromGlobal(QCursor::pos()))) clearHover();
}

void HeatmapScrollArea::scrollWheel(const QWheelEvent&, double steps) { scrollColumns(steps); }

void HeatmapScrollArea::wheelEvent(QWheelEvent* event) {
  const double steps = event->angleDelta().y() / 120.0;
  if (event->modifiers() & Qt::ControlModifier) {
    // zoom around the character under the cursor
    const double left = gridLeft(), scroll_x = horizontalScrollBar()->value();
    const double anchor = (event->position().x() - left + scroll_x) / cell_width_;
    setCellWidth(cell_width_ * std::pow(1.15, steps));
    horizontalScrollBar()->setValue(static_cast<int>(anchor * cell_width_ - (event->position().x() - left)));
    Q_EMIT cellWidthChanged(cell_width_);
  } else {
    scrollWheel(*event, steps);
  }
  event->accept();
}

void HeatmapScrollArea::resizeEvent(QResizeEvent* event) {
  QAbstractScrollArea::resizeEvent(event);
  updateScrollBars();
}

}  // namespace moewb
