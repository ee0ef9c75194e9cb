#include "ui/common/line_chart.h"

#include <QAction>
#include <QChart>
#include <QFontMetricsF>
#include <QKeyEvent>
#include <QLocale>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <cmath>

#include "ui/render/palette.h"

namespace moewb {

namespace {
constexpr double kZoomPerNotch = 0.8;   // one wheel notch shows 80 % of the x range
constexpr double kMinSpanFraction = 1e-4;  // deepest zoom, relative to the automatic range
constexpr double kReadoutGap = 8;       // logical pixels between the guide line and the readout box

// Five significant digits; large values (tokens, tokens/s) as grouped integers rather than in e-notation.
QString format_value(double v) {
  if (std::abs(v) >= 1e4 && std::abs(v) < 1e15) return QLocale(QLocale::English).toString(std::llround(v));
  return QString::number(v, 'g', 5);
}
}  // namespace

LineChart::LineChart(const QString& title, QWidget* parent) : QChartView(new QChart, parent), plot_(chart()) {
  spec_.title = title;
  setFrameShape(QFrame::NoFrame);
  setRenderHint(QPainter::Antialiasing);
  setFocusPolicy(Qt::ClickFocus);
  viewport()->setMouseTracking(true);  // the readout follows the pointer without a button held
  install_export_menu(this, this);
  refresh();
}

LineChart::~LineChart() = default;

void LineChart::setSpec(const PlotSpec& spec) {
  spec_ = spec;
  refresh();
}

void LineChart::describe(const QString& figureName, const QString& yTitle, const QString& yDescription) {
  spec_.name = figureName;
  spec_.y_title = yTitle;
  spec_.y_description = yDescription;
  refresh();
}

void LineChart::addSeries(const QString& name, const QColor& color, qreal weight, bool markers) {
  spec_.series << PlotSeries{name, color, weight, markers, {}};
  refresh();
}

void LineChart::setPoints(const QString& name, const QList<QPointF>& points) {
  for (auto& s : spec_.series)
    if (s.name == name) s.points = points;
  refresh();
}

void LineChart::removeAllSeries() {
  spec_.series.clear();
  refresh();
}

const QList<QPointF>& LineChart::points(const QString& name) const {
  static const QList<QPointF> none;
  const PlotSeries* s = spec_.find(name);
  return s ? s->points : none;
}

QStringList LineChart::seriesNames() const {
  QStringList names;
  for (const auto& s : spec_.series) names << s.name;
  return names;
}

PlotSpec LineChart::shownSpec() const {
  PlotSpec shown = spec_;
  if (view_x_) shown.x_range = view_x_;
  return shown;
}

void LineChart::refresh() {
  plot_.show(shownSpec(), screen_style(this));
  viewport()->update();
}

PlotLayout LineChart::viewLayout() const {
  PlotLayout l = plot_.layout();
  l.plot = viewportTransform().mapRect(chart()->mapRectToScene(l.plot));  // exact, not rounded to pixels
  return l;
}

std::pair<double, double> LineChart::xRange() const {
  const PlotRange r = plot_range(shownSpec());
  return {r.x0, r.x1};
}

QRectF LineChart::plotArea() const { return viewLayout().plot; }

std::optional<PlotReadout> LineChart::readoutAt(QPointF pos) const {
  const PlotLayout l = viewLayout();
  if (!l.plot.contains(pos)) return std::nullopt;
  return PlotFigure(spec_).readout(l, l.x_at(pos.x()));
}

void LineChart::resetZoom() {
  view_x_.reset();
  refresh();
}

void LineChart::addViewActions(QMenu* menu) {
  menu->addSeparator();
  QAction* reset = menu->addAction("Reset zoom", this, &LineChart::resetZoom);
  reset->setShortcut(Qt::Key_R);  // shown in the menu; keyPressEvent handles the key itself
  reset->setEnabled(isZoomed());
}

// The overlay is painted in scene coordinates, which the view maps one to one onto its viewport.
void LineChart::drawForeground(QPainter* painter, const QRectF& rect) {
  QChartView::drawForeground(painter, rect);
  const FigureStyle st = screen_style(this);
  if (view_x_) paintZoomHint(*painter, st);
  if (!hover_ || drag_) return;
  if (const auto r = readoutAt(*hover_)) {
    PlotLayout l = plot_.layout();
    l.plot = chart()->mapRectToScene(l.plot);
    paintReadout(*painter, l, *r, st);
  }
}

// A zoomed chart looks like any other: it says so, and how to get back, in the title row.
void LineChart::paintZoomHint(QPainter& p, const FigureStyle& st) const {
  p.save();
  p.setFont(st.font(st.text_pt));
  p.setPen(st.muted);
  p.drawText(chart()->mapRectToScene(chart()->rect()).adjusted(0, st.px(5), -st.px(5), 0), Qt::AlignRight | Qt::AlignTop,
             "zoomed · double-click resets");
  p.restore();
}

// A dashed guide at the readout's x, a dot on each series' point, and a box beside the guide listing the
// values. The box goes right of the guide, or left of it where it would cross the data area's right edge, so
// it never hides the guide or the points on it.
void LineChart::paintReadout(QPainter& p, const PlotLayout& l, const PlotReadout& r, const FigureStyle& st) const {
  p.save();
  p.setRenderHint(QPainter::Antialiasing);
  const double gx = l.map({r.x, l.log_y ? l.y0 : 0}).x();
  QPen guide(st.muted, 1, Qt::DashLine);
  p.setPen(guide);
  p.drawLine(QPointF(gx, l.plot.top()), QPointF(gx, l.plot.bottom()));
  p.setClipRect(l.plot.adjusted(-4, -4, 4, 4));
  for (const auto& v : r.values) {
    if (l.log_y && v.point.y() <= 0) continue;
    p.setPen(QPen(st.background, 1.5));
    p.setBrush(readable_on(v.color, st.background));
    p.drawEllipse(l.map(v.point), 3.5, 3.5);
  }
  p.setClipping(false);

  const QFont font = st.font(st.text_pt);
  const QFontMetricsF m(font, p.device());
  const double line = m.height(), pad = st.px(4), swatch = line * 0.6;
  const QString header = QString("%1: %2").arg(spec_.x_title, format_value(r.x));
  // as many series as the data area holds; the rest are counted in a last row
  const int fit = std::max(1, static_cast<int>((l.plot.height() - 2 * pad) / line) - 1);
  const qsizetype listed = r.values.size() > fit ? fit - 1 : r.values.size();
  QStringList rows;
  for (qsizetype i = 0; i < listed; ++i) {
    const PlotReadoutValue& v = r.values[i];
    QString row = QString("%1  %2").arg(v.series, format_value(v.point.y()));
    if (v.point.x() != r.x) row += QString("  (at %1)").arg(format_value(v.point.x()));  // a sparser series
    rows << row;
  }
  double width = m.horizontalAdvance(header);
  for (const auto& row : rows) width = std::max(width, swatch * 1.6 + m.horizontalAdvance(row));
  if (listed < r.values.size()) rows << QString("… %1 more").arg(r.values.size() - listed);
  for (const auto& row : rows.mid(listed)) width = std::max(width, m.horizontalAdvance(row));
  const QSizeF size(width + 2 * pad, static_cast<double>(rows.size() + 1) * line + 2 * pad);
  double left = gx + kReadoutGap;
  if (left + size.width() > l.plot.right()) left = gx - kReadoutGap - size.width();
  const QRectF box(QPointF(left, l.plot.top() + pad), size);

  QColor fill = st.background;
  fill.setAlpha(235);
  p.setPen(QPen(st.muted, 1));
  p.setBrush(fill);
  p.drawRoundedRect(box, 3, 3);
  p.setFont(font);
  p.setPen(st.foreground);
  double y = box.top() + pad;
  p.drawText(QRectF(box.left() + pad, y, width, line), Qt::AlignLeft | Qt::AlignVCenter, header);
  for (qsizetype i = 0; i < rows.size(); ++i) {
    y += line;
    double x = box.left() + pad;
    if (i < listed) {
      const QColor color = readable_on(r.values[i].color, st.background);
      p.fillRect(QRectF(x, y + (line - swatch) / 2, swatch * 1.2, swatch), color);
      x += swatch * 1.6;
    }
    p.drawText(QRectF(x, y, box.right() - x, line), Qt::AlignLeft | Qt::AlignVCenter, rows[i]);
  }
  p.restore();
}

void LineChart::resizeEvent(QResizeEvent* event) {
  QChartView::resizeEvent(event);  // resizes the chart to the viewport
  refresh();                       // ticks and decimation for the new size
}

void LineChart::changeEvent(QEvent* event) {
  // Qt sends this on a theme switch (QApplication::setPalette); the chart's colours come from the palette
  if (event->type() == QEvent::PaletteChange) refresh();
  QChartView::changeEvent(event);
}

bool LineChart::viewportEvent(QEvent* event) {
  if (event->type() == QEvent::Leave) {
    hover_.reset();
    viewport()->update();
  }
  return QChartView::viewportEvent(event);
}

void LineChart::mouseMoveEvent(QMouseEvent* event) {
  hover_ = event->position();
  if (drag_) {
    const QRectF plot = plotArea();
    const double per_px = (drag_->range.second - drag_->range.first) / plot.width();
    const double shift = -(event->position().x() - drag_->from.x()) * per_px;
    view_x_ = std::pair{drag_->range.first + shift, drag_->range.second + shift};
    refresh();
  }
  viewport()->update();
}

void LineChart::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && plotArea().contains(event->position())) {
    drag_ = Drag{event->position(), xRange()};
    viewport()->setCursor(Qt::ClosedHandCursor);
    event->accept();
    return;
  }
  QChartView::mousePressEvent(event);
}

void LineChart::mouseReleaseEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && drag_) {
    drag_.reset();
    viewport()->unsetCursor();
    viewport()->update();
    event->accept();
    return;
  }
  QChartView::mouseReleaseEvent(event);
}

void LineChart::mouseDoubleClickEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) resetZoom();
}

void LineChart::wheelEvent(QWheelEvent* event) {
  const PlotLayout l = viewLayout();
  const double notches = event->angleDelta().y() / 120.0;
  if (notches == 0 || !l.plot.contains(event->position())) {
    event->ignore();  // the scroll area around the Training tab scrolls instead
    return;
  }
  const double at = l.x_at(event->position().x());
  const double factor = std::pow(kZoomPerNotch, notches);
  const PlotRange automatic = plot_range(spec_);
  const double auto_span = automatic.x1 - automatic.x0;
  const double span = std::max((l.x1 - l.x0) * factor, auto_span * kMinSpanFraction);
  if (span >= auto_span) {
    resetZoom();  // zoomed out to everything: follow the data again
  } else {
    // the x under the pointer stays under the pointer
    const double left = at - (at - l.x0) / (l.x1 - l.x0) * span;
    view_x_ = std::pair{left, left + span};
    refresh();
  }
  event->accept();
}

void LineChart::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_R && event->modifiers() == Qt::NoModifier) resetZoom();
  else QChartView::keyPressEvent(event);
}

}  // namespace moewb
