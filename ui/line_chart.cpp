#include "line_chart.h"

#include <QChart>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QGraphicsLayout>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QValueAxis>

#include <cmath>
#include <limits>

namespace moewb {

namespace {
// Qt Charts elides every label when they crowd: keep ticks far enough apart for the chart's size.
constexpr int kMinPixelsPerXTick = 70;
constexpr int kMinPixelsPerYTick = 34;

// Sets the range with ticks at multiples of 1, 2 or 5 x 10^n, at most max_ticks of them. Qt lays the axis out
// after each call, so the order keeps the intermediate tick count small: a wide range with a small interval
// would ask for millions of tick items.
void set_range_with_nice_ticks(QValueAxis* axis, double min, double max, int max_ticks) {
  const double range = max - min;
  if (range <= 0) {
    axis->setRange(min, max);
    return;
  }
  const double raw = range / std::max(2, max_ticks);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double residual = raw / magnitude;
  const double step = (residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10) * magnitude;
  axis->setTickAnchor(0);
  if (axis->tickType() == QValueAxis::TicksDynamic && step < axis->tickInterval()) {
    axis->setRange(min, max);
    axis->setTickInterval(step);
  } else {
    axis->setTickInterval(step);
    axis->setRange(min, max);
  }
  axis->setTickType(QValueAxis::TicksDynamic);
}
}  // namespace

LineChart::LineChart(const QString& title, const QString& yLabel, QWidget* parent)
    : QChartView(new QChart, parent), x_axis_(new QValueAxis), y_label_(yLabel) {
  setRenderHint(QPainter::Antialiasing);
  chart()->setTitle(title);
  chart()->legend()->setAlignment(Qt::AlignBottom);
  chart()->setMargins(QMargins(2, 2, 2, 2));
  chart()->layout()->setContentsMargins(0, 0, 0, 0);
  chart()->setBackgroundRoundness(0);
  x_axis_->setTitleText("step");
  x_axis_->setTitleVisible(false);
  x_axis_->setLabelFormat("%d");
  x_axis_->setTickCount(5);
  chart()->addAxis(x_axis_, Qt::AlignBottom);
  attachY();
  setMinimumSize(200, 120);
  install_export_menu(this, this);
}

void LineChart::attachY() {
  if (y_axis_) {
    chart()->removeAxis(y_axis_);
    delete y_axis_;
  }
  if (log_scale_) {
    auto* axis = new QLogValueAxis;
    axis->setBase(10);
    axis->setLabelFormat(y_format_);
    axis->setMinorTickCount(8);
    y_axis_ = axis;
  } else {
    auto* axis = new QValueAxis;
    axis->setLabelFormat(y_format_);
    y_axis_ = axis;
  }
  y_axis_->setTitleText(y_label_);
  chart()->addAxis(y_axis_, Qt::AlignLeft);
  for (auto* s : series_) s->attachAxis(y_axis_);
  rescale();
}

void LineChart::describe(const QString& figureName, const QString& xDescription, const QString& yDescription) {
  figure_name_ = figureName;
  x_description_ = xDescription;
  y_description_ = yDescription;
}

QSize LineChart::naturalSize() const { return isVisible() && width() > 300 ? size() : QSize(800, 500); }

void LineChart::paintFigure(QPainter& p, const QRect& target) {
  // Lay the chart out at the export size (fonts stay at their point size), render the scene, then restore.
  const QSizeF previous = chart()->size();
  chart()->resize(target.size());
  rescale();
  chart()->layout()->activate();
  scene()->render(&p, target, QRectF(chart()->pos(), target.size()), Qt::IgnoreAspectRatio);
  chart()->resize(previous);
  rescale();
}

QString LineChart::dataCsv() const {
  QString out = QString("# figure: %1\n# x: %2\n# y: %3\nseries,x,y\n")
                    .arg(chart()->title(), x_description_, y_description_);
  for (auto it = data_.begin(); it != data_.end(); ++it)
    for (const auto& point : it.value())
      out += QString("%1,%2,%3\n").arg(it.key()).arg(point.x(), 0, 'g', 17).arg(point.y(), 0, 'g', 17);
  return out;
}

QString LineChart::dataJson() const {
  QJsonArray series;
  for (auto it = data_.begin(); it != data_.end(); ++it) {
    QJsonArray points;
    for (const auto& point : it.value()) points.append(QJsonArray{point.x(), point.y()});
    series.append(QJsonObject{{"name", it.key()}, {"points", points}});
  }
  const QJsonObject root{{"figure", chart()->title()}, {"x", x_description_}, {"y", y_description_}, {"series", series}};
  return QString::fromUtf8(QJsonDocument(root).toJson());
}

void LineChart::resizeEvent(QResizeEvent* event) {
  QChartView::resizeEvent(event);
  rescale();
}

void LineChart::setYLabelFormat(const QString& format) {
  y_format_ = format;
  attachY();
}

void LineChart::addSeries(const QString& name, const QColor& color, qreal width, bool markers) {
  auto* s = new QLineSeries;
  s->setName(name);
  QPen pen(color);
  pen.setWidthF(width);
  s->setPen(pen);
  s->setPointsVisible(markers);
  chart()->addSeries(s);
  s->attachAxis(x_axis_);
  s->attachAxis(y_axis_);
  series_[name] = s;
  data_[name];
  chart()->legend()->setVisible(series_.size() > 1);
}

void LineChart::removeAllSeries() {
  chart()->removeAllSeries();
  series_.clear();
  data_.clear();
  rescale();
}

void LineChart::setPoints(const QString& name, const QList<QPointF>& points) {
  auto* s = series_.value(name);
  if (!s) return;
  data_[name] = points;
  if (log_scale_) {
    QList<QPointF> positive;
    for (const auto& p : points)
      if (p.y() > 0) positive << p;
    s->replace(positive);
  } else {
    s->replace(points);
  }
  rescale();
}

const QList<QPointF>& LineChart::points(const QString& name) const {
  static const QList<QPointF> none;
  auto it = data_.find(name);
  return it == data_.end() ? none : it.value();
}

void LineChart::setLogScale(bool on) {
  if (on == log_scale_) return;
  log_scale_ = on;
  attachY();
  for (auto it = data_.begin(); it != data_.end(); ++it) setPoints(it.key(), QList<QPointF>(it.value()));
}

void LineChart::rescale() {
  double x0 = std::numeric_limits<double>::max(), x1 = std::numeric_limits<double>::lowest();
  double y0 = x0, y1 = x1;
  for (const auto& points : data_) {
    for (const auto& p : points) {
      if (!std::isfinite(p.y()) || (log_scale_ && p.y() <= 0)) continue;
      x0 = std::min(x0, p.x()), x1 = std::max(x1, p.x());
      y0 = std::min(y0, p.y()), y1 = std::max(y1, p.y());
    }
  }
  if (x0 > x1) {
    set_range_with_nice_ticks(x_axis_, 0, 100, width() / kMinPixelsPerXTick);
    if (log_scale_) y_axis_->setRange(0.1, 1.0);
    else set_range_with_nice_ticks(static_cast<QValueAxis*>(y_axis_), 0, 1, height() / kMinPixelsPerYTick);
    return;
  }
  set_range_with_nice_ticks(x_axis_, x0, x1 > x0 ? x1 : x0 + 1, width() / kMinPixelsPerXTick);
  if (log_scale_) {
    y_axis_->setRange(y0 / 1.1, y1 * 1.1);
  } else {
    const double pad = y1 > y0 ? (y1 - y0) * 0.05 : std::max(std::abs(y0) * 0.05, 1e-3);
    set_range_with_nice_ticks(static_cast<QValueAxis*>(y_axis_), y0 - pad, y1 + pad, height() / kMinPixelsPerYTick);
  }
}

}  // namespace moewb
