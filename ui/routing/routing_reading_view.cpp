#include "ui/routing/routing_reading_view.h"

#include <QFontDatabase>
#include <QKeyEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>

#include <algorithm>
#include <cmath>

#include "ui/render/loss_change_figure.h"
#include "ui/render/routing_figure.h"
#include "ui/render/routing_text.h"

namespace moewb {

namespace {
constexpr int kMargin = 6;
constexpr int kLinePadding = 6;  // room between lines for the pin outline
}  // namespace

RoutingReadingView::RoutingReadingView(QWidget* parent) : QAbstractScrollArea(parent) {
  setObjectName("reading_view");
  setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  setMouseTracking(true);
  viewport()->setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  connect(verticalScrollBar(), &QScrollBar::valueChanged, viewport(), qOverload<>(&QWidget::update));
  relayout();
}

void RoutingReadingView::setTrace(const RoutingTrace& trace) {
  trace_ = trace;
  if (pinned_ >= trace_.length()) pinned_ = -1;
  hovered_ = -1;
  if (layer_ >= static_cast<int>(trace_.layers.size())) layer_ = 0;
  relayout();
}

void RoutingReadingView::setPlaceholder(const QString& text) {
  placeholder_ = text;
  viewport()->update();
}

void RoutingReadingView::setLayer(int layer) {
  layer_ = std::max(0, layer);
  viewport()->update();
}

void RoutingReadingView::setHighlightedExpert(int expert) {
  highlighted_ = expert;
  viewport()->update();
}

void RoutingReadingView::setPinned(int position) {
  pinned_ = position;
  if (position >= 0) ensureVisible(position);
  viewport()->update();
}

void RoutingReadingView::setHovered(int position) {
  if (position == hovered_) return;
  hovered_ = position;
  viewport()->update();
}

void RoutingReadingView::ensureVisible(int position) {
  if (position < 0 || position >= trace_.length()) return;
  const int top = line_of_[static_cast<size_t>(position)] * line_h_;
  QScrollBar* bar = verticalScrollBar();
  if (top < bar->value()) bar->setValue(top);
  else if (top + line_h_ > bar->value() + viewport()->height()) bar->setValue(top + line_h_ - viewport()->height());
}

bool RoutingReadingView::processes(int position, int expert) const {
  const LayerTrace& l = trace_.layers[static_cast<size_t>(layer_)];
  for (int s = 0; s < l.slots; ++s)
    if (l.chosen_at(position, s) == expert && !l.dropped_at(position, s)) return true;
  return false;
}

void RoutingReadingView::setLossChange(const std::vector<double>& before, const std::vector<double>& after) {
  loss_before_ = before;
  loss_after_ = after;
  loss_scale_ = loss_change_scale(before, after);
  viewport()->update();
}

QColor RoutingReadingView::cellColor(int position) const {
  if (!loss_before_.empty()) {
    if (position < 0 || static_cast<size_t>(position) >= loss_before_.size()) return {};
    const double delta = loss_after_[static_cast<size_t>(position)] - loss_before_[static_cast<size_t>(position)];
    return loss_change_color(delta, loss_scale_, palette().color(QPalette::Base));
  }
  if (position < 0 || position >= trace_.length() || layer_ >= static_cast<int>(trace_.layers.size())) return {};
  const QColor c =
      routing_cell_color(trace_.layers[static_cast<size_t>(layer_)], position, palette().color(QPalette::Base));
  if (highlighted_ < 0 || processes(position, highlighted_)) return c;
  return palette().color(QPalette::Base);  // not this expert's: plain text
}

void RoutingReadingView::relayout() {
  const QFontMetrics fm(font());
  cell_w_ = std::max(1, fm.horizontalAdvance(QLatin1Char('M')));
  line_h_ = fm.height() + kLinePadding;
  columns_ = std::max(8, (viewport()->width() - 2 * kMargin) / cell_w_);
  const size_t n = trace_.text.size();
  line_of_.assign(n, 0);
  column_of_.assign(n, 0);
  line_start_.assign(1, 0);
  int line = 0, column = 0;
  for (size_t i = 0; i < n; ++i) {
    if (column == columns_) {
      ++line, column = 0;
      line_start_.push_back(static_cast<int>(i));
    }
    line_of_[i] = line, column_of_[i] = column++;
    if (trace_.text[i] == U'\n' && i + 1 < n) {  // the newline shows as ↵, the text continues on a new line
      ++line, column = 0;
      line_start_.push_back(static_cast<int>(i + 1));
    }
  }
  const int height = static_cast<int>(line_start_.size()) * line_h_ + 2 * kMargin;
  verticalScrollBar()->setRange(0, std::max(0, height - viewport()->height()));
  verticalScrollBar()->setPageStep(viewport()->height());
  verticalScrollBar()->setSingleStep(line_h_);
  viewport()->update();
}

QRect RoutingReadingView::cellRect(int position) const {
  if (position < 0 || position >= trace_.length()) return {};
  const size_t i = static_cast<size_t>(position);
  return {kMargin + column_of_[i] * cell_w_, kMargin + line_of_[i] * line_h_ - verticalScrollBar()->value(), cell_w_,
          line_h_ - kLinePadding / 2};
}

int RoutingReadingView::positionAt(const QPoint& p) const {
  if (trace_.text.empty() || p.x() < kMargin) return -1;
  const int line = (p.y() + verticalScrollBar()->value() - kMargin) / line_h_;
  const int column = (p.x() - kMargin) / cell_w_;
  if (line < 0 || line >= static_cast<int>(line_start_.size()) || column >= columns_) return -1;
  const int position = line_start_[static_cast<size_t>(line)] + column;
  if (position >= trace_.length() || line_of_[static_cast<size_t>(position)] != line) return -1;  // past a newline
  return position;
}

void RoutingReadingView::paintEvent(QPaintEvent*) {
  QPainter p(viewport());
  p.fillRect(viewport()->rect(), palette().color(QPalette::Base));
  if (trace_.text.empty()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(viewport()->rect(), Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
    return;
  }
  const bool routed = layer_ < static_cast<int>(trace_.layers.size()) || !loss_before_.empty();
  const int first_line = std::max(0, (verticalScrollBar()->value() - kMargin) / line_h_);
  const int last_line = std::min(static_cast<int>(line_start_.size()) - 1,
                                 (verticalScrollBar()->value() + viewport()->height()) / line_h_);
  const int begin = line_start_[static_cast<size_t>(first_line)];
  const int end = last_line + 1 < static_cast<int>(line_start_.size()) ? line_start_[static_cast<size_t>(last_line + 1)]
                                                                         : trace_.length();
  const QColor text = palette().color(QPalette::Text);
  for (int i = begin; i < end; ++i) {
    const QRect cell = cellRect(i);
    const QColor background = routed ? cellColor(i) : palette().color(QPalette::Base);
    p.fillRect(cell, background);
    const char32_t c = trace_.text[static_cast<size_t>(i)];
    const bool whitespace = c == U' ' || c == U'\n' || c == U'\t';
    // dark text on light cells, light text on dark ones; visible whitespace is drawn fainter
    QColor ink = background.lightnessF() > 0.55 ? QColor(20, 20, 20) : QColor(245, 245, 245);
    if (!routed) ink = text;
    if (whitespace) ink.setAlphaF(0.45);
    p.setPen(ink);
    p.drawText(cell, Qt::AlignCenter, visible_char(c));
  }
  for (auto [position, width] : {std::pair{hovered_, 1}, std::pair{pinned_, 2}}) {
    if (position < begin || position >= end) continue;
    p.setPen(QPen(text, width));
    p.setBrush(Qt::NoBrush);
    p.drawRect(cellRect(position).adjusted(0, 0, -1, -1));
  }
}

void RoutingReadingView::resizeEvent(QResizeEvent* event) {
  QAbstractScrollArea::resizeEvent(event);
  relayout();
}

void RoutingReadingView::changeEvent(QEvent* event) {
  QAbstractScrollArea::changeEvent(event);
  if (event->type() == QEvent::FontChange) relayout();
}

void RoutingReadingView::mouseMoveEvent(QMouseEvent* event) {
  const int position = positionAt(event->position().toPoint());
  if (position != hovered_) {
    setHovered(position);
    Q_EMIT hovered(position);
  }
  const bool losses = !loss_before_.empty() && static_cast<size_t>(position) < loss_before_.size();
  if (position < 0 || (!losses && layer_ >= static_cast<int>(trace_.layers.size()))) {
    QToolTip::hideText();
    return;
  }
  const size_t i = static_cast<size_t>(position);
  const QString tip =
      !losses ? routing_tooltip(trace_, layer_, position)
      : std::isnan(loss_before_[i])
          ? QString("'%1' at position %2: the first character, nothing predicts it")
                .arg(visible_char(trace_.text[i]).toHtmlEscaped())
                .arg(position)
          : QString("<b>'%1'</b> at position %2<br>loss %3 → %4 nats (%5%6)")
                .arg(visible_char(trace_.text[i]).toHtmlEscaped())
                .arg(position)
                .arg(loss_before_[i], 0, 'f', 3)
                .arg(loss_after_[i], 0, 'f', 3)
                .arg(loss_after_[i] >= loss_before_[i] ? "+" : "")
                .arg(loss_after_[i] - loss_before_[i], 0, 'f', 3);
  // below the hovered line, so the line being read stays visible
  const QRect cell = cellRect(position);
  QToolTip::showText(viewport()->mapToGlobal(QPoint(cell.left(), cell.bottom() + 4)), tip, viewport(), cell);
}

void RoutingReadingView::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return;
  const int position = positionAt(event->position().toPoint());
  if (position < 0) return;
  setPinned(position == pinned_ ? -1 : position);
  Q_EMIT pinned(pinned_);
}

void RoutingReadingView::leaveEvent(QEvent*) {
  if (hovered_ < 0 || viewport()->rect().contains(viewport()->mapFromGlobal(QCursor::pos()))) return;
  setHovered(-1);
  Q_EMIT hovered(-1);
}

void RoutingReadingView::keyPressEvent(QKeyEvent* event) {
  const int n = trace_.length();
  const int from = std::max(0, pinned_);
  int to = -1;
  switch (event->key()) {
    case Qt::Key_Left: to = from - 1; break;
    case Qt::Key_Right: to = pinned_ >= 0 ? from + 1 : 0; break;
    case Qt::Key_Up:
    case Qt::Key_Down: {
      // the same column on the line above or below, or that line's last character when it is shorter
      if (n == 0) return;
      const int line = line_of_[static_cast<size_t>(from)] + (event->key() == Qt::Key_Up ? -1 : 1);
      if (line < 0 || line >= static_cast<int>(line_start_.size())) return;
      const int next = line + 1 < static_cast<int>(line_start_.size()) ? line_start_[static_cast<size_t>(line + 1)] : n;
      to = std::min(line_start_[static_cast<size_t>(line)] + column_of_[static_cast<size_t>(from)], next - 1);
      break;
    }
    case Qt::Key_Home: to = 0; break;
    case Qt::Key_End: to = n - 1; break;
    case Qt::Key_PageUp: Q_EMIT layerStepRequested(-1); return;
    case Qt::Key_PageDown: Q_EMIT layerStepRequested(1); return;
    default: QAbstractScrollArea::keyPressEvent(event); return;
  }
  if (n == 0) return;
  setPinned(std::clamp(to, 0, n - 1));
  Q_EMIT pinned(pinned_);
}

}  // namespace moewb
