#include "line_chart.h"

#include <QAction>
#include <QFontMetricsF>
#include <QKeyEvent>
#include <QLocale>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <cmath>

#include "palette.h"

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

LineChart::LineChart(const QString& title, QWidget* parent) : QWidget(parent) {
  figure_.spec().title = title;
  setFocusPolicy(Qt::ClickFocus);
  setMouseTracking(true);  // the readout follows the pointer without a button held
  install_export_menu(this, this);
}

void LineChart::setSpec(const PlotSpec& spec) {
  figure_.spec() = spec;
  update();
}

void LineChart::describe(const QString& figureName, const QString& yTitle, const QString& yDescription) {
  PlotSpec& s = figure_.spec();
  s.name = figureName;
  s.y_title = yTitle;
  s.y_description = yDescription;
}

void LineChart::addSeries(const QString& name, const QColor& color, qreal weight, bool markers) {
  figure_.spec().series << PlotSeries{name, color, weight, markers, {}};
  update();
}

void LineChart::setPoints(const QString& name, const QList<QPointF>& points) {
  for (auto& s : figure_.spec().series)
    if (s.name == name) s.points = points;
  update();
}

void LineChart::removeAllSeries() {
  figure_.spec().series.clear();
  update();
}

const QList<QPointF>& LineChart::points(const QString& name) const {
  static const QList<QPointF> none;
  const PlotSeries* s = figure_.spec().find(name);
  return s ? s->points : none;
}

QStringList LineChart::seriesNames() const {
  QStringList names;
  for (const auto& s : figure_.spec().series) names << s.name;
  return names;
}

PlotFigure LineChart::shownFigure() const {
  PlotFigure shown = figure_;
  if (view_x_) shown.spec().x_range = view_x_;
  return shown;
}

PlotLayout LineChart::currentLayout() const { return shownFigure().layout(this, rect(), screen_style(this)); }

std::pair<double, double> LineChart::xRange() const {
  const PlotLayout l = currentLayout();
  return {l.x0, l.x1};
}

QRectF LineChart::plotArea() const { return currentLayout().plot; }

std::optional<PlotReadout> LineChart::readoutAt(QPointF widgetPos) const {
  const PlotLayout l = currentLayout();
  if (!l.plot.contains(widgetPos)) return std::nullopt;
  return figure_.readout(l, l.x0 + (widgetPos.x() - l.plot.left()) / l.plot.width() * (l.x1 - l.x0));
}

void LineChart::resetZoom() {
  view_x_.reset();
  update();
}

void LineChart::addViewActions(QMenu* menu) {
  menu->addSeparator();
  QAction* reset = menu->addAction("Reset zoom", this, &LineChart::resetZoom);
  reset->setShortcut(Qt::Key_R);  // shown in the menu; keyPressEvent handles the key itself
  reset->setEnabled(isZoomed());
}

void LineChart::paintEvent(QPaintEvent*) {
  QPainter p(this);
  const FigureStyle st = screen_style(this);
  const PlotFigure shown = shownFigure();
  shown.paint(p, rect(), st);
  if (view_x_) paintZoomHint(p, st);
  if (!hover_ || drag_) return;
  if (const auto r = readoutAt(*hover_)) paintReadout(p, shown.layout(p, rect(), st), *r, st);
}

// A zoomed chart looks like any other: it says so, and how to get back, in the title row.
void LineChart::paintZoomHint(QPainter& p, const FigureStyle& st) const {
  p.save();
  p.setFont(st.font(st.text_pt));
  p.setPen(st.muted);
  p.drawText(QRectF(rect()).adjusted(0, st.px(5), -st.px(5), 0), Qt::AlignRight | Qt::AlignTop,
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
  const QString header = QString("%1: %2").arg(spec().x_title, format_value(r.x));
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

void LineChart::changeEvent(QEvent* event) {
  // Qt sends this on a theme switch (QApplication::setPalette) but does not repaint the widget for it, and the
  // background and the series colours chosen against it are read at paint time
  if (event->type() == QEvent::PaletteChange) update();
  QWidget::changeEvent(event);
}

void LineChart::mouseMoveEvent(QMouseEvent* event) {
  hover_ = event->position();
  if (drag_) {
    const QRectF plot = plotArea();
    const double per_px = (drag_->range.second - drag_->range.first) / plot.width();
    const double shift = -(event->position().x() - drag_->from.x()) * per_px;
    view_x_ = std::pair{drag_->range.first + shift, drag_->range.second + shift};
  }
  update();
}

void LineChart::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && plotArea().contains(event->position())) {
    drag_ = Drag{event->position(), xRange()};
    setCursor(Qt::ClosedHandCursor);
  }
  QWidget::mousePressEvent(event);
}

void LineChart::mouseReleaseEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && drag_) {
    drag_.reset();
    unsetCursor();
    update();
  }
  QWidget::mouseReleaseEvent(event);
}

void LineChart::mouseDoubleClickEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) resetZoom();
}

void LineChart::wheelEvent(QWheelEvent* event) {
  const PlotLayout l = currentLayout();
  const double notches = event->angleDelta().y() / 120.0;
  if (notches == 0 || !l.plot.contains(event->position())) {
    event->ignore();  // the scroll area around the Training tab scrolls instead
    return;
  }
  const double at = l.x0 + (event->position().x() - l.plot.left()) / l.plot.width() * (l.x1 - l.x0);
  const double factor = std::pow(kZoomPerNotch, notches);
  const PlotLayout automatic = figure_.layout(this, rect(), screen_style(this));
  const double auto_span = automatic.x1 - automatic.x0;
  const double span = std::max((l.x1 - l.x0) * factor, auto_span * kMinSpanFraction);
  if (span >= auto_span) {
    resetZoom();  // zoomed out to everything: follow the data again
  } else {
    // the x under the pointer stays under the pointer
    const double left = at - (at - l.x0) / (l.x1 - l.x0) * span;
    view_x_ = std::pair{left, left + span};
    update();
  }
  event->accept();
}

void LineChart::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_R && event->modifiers() == Qt::NoModifier) resetZoom();
  else QWidget::keyPressEvent(event);
}

void LineChart::leaveEvent(QEvent* event) {
  hover_.reset();
  update();
  QWidget::leaveEvent(event);
}

}  // namespace moewb
