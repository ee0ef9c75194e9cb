#include "routing_heatmap.h"

#include <QCursor>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>

#include <cmath>

#include "palette.h"
#include "routing_text.h"

namespace moewb {

namespace {
constexpr double kRowHeight = 22;
constexpr double kDetailRowHeight = 16;
constexpr double kLabelWidth = 64;
constexpr double kCharStrip = 22;
constexpr double kLegendHeight = 24;
constexpr double kMinCell = 3, kMaxCell = 48;
}  // namespace

RoutingHeatmap::RoutingHeatmap(QWidget* parent) : QAbstractScrollArea(parent) {
  install_export_menu(viewport(), this);
  setMouseTracking(true);
  viewport()->setMouseTracking(true);
  setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  setFrameShape(QFrame::NoFrame);
  connect(horizontalScrollBar(), &QScrollBar::valueChanged, viewport(), qOverload<>(&QWidget::update));
}

void RoutingHeatmap::setTrace(const RoutingTrace& trace) {
  trace_ = trace;
  if (pinned_ >= trace_.length()) pinned_ = -1;
  hovered_ = -1;
  updateScrollBar();
  updateHeight();
  viewport()->update();
}

void RoutingHeatmap::setDetailLayer(int layer) {
  detail_layer_ = layer;
  updateHeight();
  viewport()->update();
}

void RoutingHeatmap::setCellWidth(double pixels) {
  cell_width_ = std::clamp(pixels, kMinCell, kMaxCell);
  updateScrollBar();
  viewport()->update();
}

void RoutingHeatmap::setPinnedColumn(int column) {
  pinned_ = column;
  viewport()->update();
}

void RoutingHeatmap::showHoveredColumn(int column) {
  if (column == hovered_) return;
  hovered_ = column;
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

HeatmapGeometry RoutingHeatmap::geometry() const {
  HeatmapGeometry g;
  g.cell_width = cell_width_;
  g.row_height = shownDetailLayer() >= 0 ? kDetailRowHeight : kRowHeight;
  g.left = kLabelWidth;
  g.top = 4;
  g.scroll_x = horizontalScrollBar()->value();
  g.rows = rowCount();
  g.columns = trace_.length();
  return g;
}

QSize RoutingHeatmap::sizeHint() const {
  const HeatmapGeometry g = geometry();
  return {800, static_cast<int>(g.gridBottom() + kCharStrip + kLegendHeight) + 20};
}

QSize RoutingHeatmap::minimumSizeHint() const { return {200, 80}; }

void RoutingHeatmap::updateHeight() {
  // the whole grid, characters and legend stay visible: the panel scrolls sideways, never clips rows
  setMinimumHeight(trace_.empty() ? 80 : sizeHint().height());
  updateGeometry();
}

void RoutingHeatmap::updateScrollBar() {
  const HeatmapGeometry g = geometry();
  const int overflow = static_cast<int>(std::ceil(g.gridWidth() - (viewport()->width() - g.left)));
  horizontalScrollBar()->setRange(0, std::max(0, overflow));
  horizontalScrollBar()->setPageStep(std::max(1, viewport()->width() - static_cast<int>(g.left)));
  horizontalScrollBar()->setSingleStep(static_cast<int>(std::ceil(g.cell_width)));
}

void RoutingHeatmap::paintGrid(QPainter& p, const HeatmapGeometry& g, int first, int last) const {
  const int detail_layer = shownDetailLayer();
  const bool detail = detail_layer >= 0;
  const bool sigmoid = trace_.routing == "sigmoid";
  QBrush hatch(QColor(40, 40, 40, 170), Qt::BDiagPattern);
  QFont small = p.font();
  small.setPointSizeF(std::max(6.0, std::min(9.0, g.cell_width * 0.55)));
  for (int c = first; c < last; ++c) {
    for (int r = 0; r < g.rows; ++r) {
      const QRectF cell = g.cellRect(r, c);
      if (detail) {
        const LayerTrace& l = trace_.layers[static_cast<size_t>(detail_layer)];
        p.fillRect(cell, viridis(l.prob(c, r)));
        for (int s = 0; s < l.slots; ++s) {
          if (l.chosen_at(c, s) != r) continue;
          if (l.dropped_at(c, s)) {
            p.fillRect(cell, QBrush(QColor(255, 255, 255, 200), Qt::DiagCrossPattern));
          } else {
            const double radius = std::min(cell.width(), cell.height()) * 0.18;
            p.setPen(Qt::NoPen);
            p.setBrush(Qt::white);
            p.drawEllipse(cell.center(), radius, radius);
          }
        }
      } else {
        const LayerTrace& l = trace_.layers[static_cast<size_t>(r)];
        const int e = l.top_expert(c);
        double weight = 0;
        for (int s = 0; s < l.slots; ++s)
          if (l.chosen_at(c, s) == e && !l.dropped_at(c, s)) weight = l.weight_at(c, s);
        p.fillRect(cell, e >= 0 ? weighted_expert_color(e, weight) : QColor(235, 235, 235));
        if (l.any_dropped(c)) p.fillRect(cell, hatch);
        if (sigmoid && g.cell_width >= 9) {
          p.setPen(QColor(20, 20, 20));
          p.setFont(small);
          p.drawText(cell, Qt::AlignCenter, QString::number(l.active_count(c)));
        }
      }
    }
  }
}

void RoutingHeatmap::render(QPainter& p, const QRect& target, bool wholeText) const {
  p.save();
  p.setClipRect(target);
  p.translate(target.topLeft());
  p.fillRect(QRect(QPoint(0, 0), target.size()), palette().base());
  if (trace_.empty()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(QRect(QPoint(0, 0), target.size()), Qt::AlignCenter | Qt::TextWordWrap,
               trace_.routing == "dense"
                   ? "No routing in a dense model: every character goes through the same feed-forward layer."
                   : "No routing trace yet: train an MoE model, open a run, or trace a text.");
    p.restore();
    return;
  }
  HeatmapGeometry g = geometry();
  if (wholeText) {
    g.scroll_x = 0;
    g.cell_width = std::max(1.0, (target.width() - g.left - 4) / std::max(1, g.columns));
  }
  const auto [first, last] = wholeText ? std::pair<int, int>{0, g.columns} : g.visibleColumns(target.width());
  paintGrid(p, g, first, last);

  // row labels
  p.setPen(palette().color(QPalette::Text));
  p.fillRect(QRectF(0, 0, g.left - 2, g.gridBottom() + kCharStrip), palette().base());
  for (int r = 0; r < g.rows; ++r) {
    const QRectF label(4, g.top + r * g.row_height, g.left - 10, g.row_height);
    if (shownDetailLayer() >= 0) {
      p.fillRect(QRectF(label.right() - 8, label.top() + 3, 8, label.height() - 6), expert_color(r));
      p.drawText(label.adjusted(0, 0, -12, 0), Qt::AlignVCenter | Qt::AlignRight, QString("E%1").arg(r));
    } else {
      p.drawText(label, Qt::AlignVCenter | Qt::AlignRight, QString("layer %1").arg(r));
    }
  }

  // characters under the grid
  QFont mono("monospace");
  mono.setStyleHint(QFont::Monospace);
  mono.setPointSizeF(std::max(6.0, std::min(11.0, g.cell_width * 0.75)));
  p.setFont(mono);
  const double strip_top = g.gridBottom() + 2;
  if (g.cell_width >= 6) {
    for (int c = first; c < last; ++c) {
      const QRectF cell(g.left + c * g.cell_width - g.scroll_x, strip_top, g.cell_width, kCharStrip - 4);
      const char32_t ch = trace_.text[static_cast<size_t>(c)];
      p.setPen(ch == U' ' || ch == U'\n' || ch == U'\t' ? palette().color(QPalette::PlaceholderText)
                                                       : palette().color(QPalette::Text));
      p.drawText(cell, Qt::AlignCenter, visible_char(ch));
    }
  }
  // hovered and pinned columns across all rows and the character strip
  auto outline = [&](int column, const QColor& color, qreal width) {
    if (column < first || column >= last) return;
    const QRectF col(g.left + column * g.cell_width - g.scroll_x, g.top, g.cell_width, g.gridBottom() - g.top + kCharStrip);
    p.setPen(QPen(color, width));
    p.setBrush(Qt::NoBrush);
    p.drawRect(col.adjusted(0.5, 0.5, -0.5, -0.5));
  };
  outline(pinned_, QColor(0, 0, 0), 2.0);
  outline(hovered_, QColor(0, 0, 0, 140), 1.5);

  // legend
  QFont legend_font = font();
  p.setFont(legend_font);
  double x = 4;
  const double y = g.gridBottom() + kCharStrip + 4;
  p.setPen(palette().color(QPalette::Text));
  if (shownDetailLayer() >= 0) {
    const QString title = QString("Layer %1 — probability:").arg(shownDetailLayer());
    p.drawText(QPointF(x, y + 13), title);
    x += p.fontMetrics().horizontalAdvance(title) + 6;
    for (int i = 0; i < 100; ++i) p.fillRect(QRectF(x + i, y + 3, 1, 12), viridis(i / 99.0));
    p.drawText(QPointF(x + 104, y + 13), "0 → 1 · dot = chosen · cross-hatched = dropped by capacity");
  } else {
    const int shown = std::min(trace_.n_experts, 17);
    for (int e = 0; e < shown; ++e) {
      p.fillRect(QRectF(x, y + 3, 12, 12), expert_color(e));
      p.drawText(QPointF(x + 15, y + 13), QString("E%1").arg(e));
      x += 15 + p.fontMetrics().horizontalAdvance(QString("E%1").arg(e)) + 8;
    }
    QString note = "colour = top expert, paler = lower weight";
    if (trace_.routing == "sigmoid") note += " · number = active experts";
    if (trace_.routing == "hash") note = "colour = the fixed hash expert of the character";
    note += " · hatched = capacity dropped an assignment";
    p.drawText(QPointF(x + 6, y + 13), note);
  }
  p.restore();
}

void RoutingHeatmap::paintEvent(QPaintEvent*) {
  QPainter p(viewport());
  render(p, viewport()->rect(), false);
}

void RoutingHeatmap::mouseMoveEvent(QMouseEvent* event) {
  const HeatmapGeometry g = geometry();
  const auto cell = g.cellAt(event->position());
  const int column = cell ? cell->column : -1;
  if (column != hovered_) {
    hovered_ = column;
    viewport()->update();
    Q_EMIT hovered(column);
  }
  if (!cell) {
    QToolTip::hideText();
    return;
  }
  const int layer = shownDetailLayer() >= 0 ? shownDetailLayer() : cell->row;
  QToolTip::showText(event->globalPosition().toPoint(), routing_tooltip(trace_, layer, cell->column), viewport(),
                     g.cellRect(cell->row, cell->column).toRect());
}

void RoutingHeatmap::mousePressEvent(QMouseEvent* event) {
  const auto column = geometry().columnAt(event->position().x());
  if (!column) return;
  pinned_ = pinned_ == *column ? -1 : *column;
  viewport()->update();
  Q_EMIT pinned(pinned_);
}

QString RoutingHeatmap::figureName() const {
  const QString step = trace_.step >= 0 ? QString("_step_%1").arg(trace_.step, 6, 10, QChar('0')) : QString();
  const int layer = shownDetailLayer();
  return layer >= 0 ? QString("routing_L%1_experts%2").arg(layer).arg(step) : QString("routing%1").arg(step);
}

QSize RoutingHeatmap::naturalSize() const {
  const HeatmapGeometry g = geometry();
  return {static_cast<int>(std::max(600.0, g.left + g.gridWidth() + 8)), sizeHint().height() - 20};
}

QString RoutingHeatmap::dataCsv() const {
  QString out = QString("# routing trace of %1 characters, routing mode %2, step %3\n"
                        "# probability: router softmax p (sigmoid: gate sigma(z); hash: 1 for the fixed expert)\n"
                        "# chosen: the router picked this expert; weight: combine weight applied (0 when dropped); "
                        "dropped: capacity refused the assignment\n"
                        "position,character,layer,expert,probability,chosen,weight,dropped\n")
                    .arg(trace_.length())
                    .arg(QString::fromStdString(trace_.routing))
                    .arg(trace_.step);
  for (int t = 0; t < trace_.length(); ++t) {
    const QString quoted = csv_cell(visible_char(trace_.text[static_cast<size_t>(t)]));
    for (size_t l = 0; l < trace_.layers.size(); ++l) {
      const LayerTrace& layer = trace_.layers[l];
      for (int e = 0; e < layer.n_experts; ++e) {
        int chosen = 0, dropped = 0;
        double weight = 0;
        for (int s = 0; s < layer.slots; ++s) {
          if (layer.chosen_at(t, s) != e) continue;
          chosen = 1, dropped = layer.dropped_at(t, s), weight = layer.weight_at(t, s);
        }
        out += QString("%1,%2,%3,%4,%5,%6,%7,%8\n")
                   .arg(t)
                   .arg(quoted)
                   .arg(l)
                   .arg(e)
                   .arg(layer.prob(t, e), 0, 'g', 9)
                   .arg(chosen)
                   .arg(weight, 0, 'g', 9)
                   .arg(dropped);
      }
    }
  }
  return out;
}

QString RoutingHeatmap::dataJson() const { return QString::fromStdString(trace_.to_json()); }

int RoutingHeatmap::shownDetailLayer() const {
  return detail_layer_ < static_cast<int>(trace_.layers.size()) ? detail_layer_ : -1;
}

void RoutingHeatmap::leaveEvent(QEvent*) {
  // a tooltip appearing under the cursor also "leaves" the viewport: keep the hover while the cursor is inside
  if (hovered_ < 0 || viewport()->rect().contains(viewport()->mapFromGlobal(QCursor::pos()))) return;
  hovered_ = -1;
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
  } else {
    horizontalScrollBar()->setValue(horizontalScrollBar()->value() - static_cast<int>(steps * 3 * cell_width_));
  }
  event->accept();
}

void RoutingHeatmap::resizeEvent(QResizeEvent* event) {
  QAbstractScrollArea::resizeEvent(event);
  updateScrollBar();
}

}  // namespace moewb
