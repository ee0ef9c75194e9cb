#include "ui/render/plot_figure.h"

#include <QChart>
#include <QGraphicsScene>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPainter>
#include <QRegularExpression>

#include <cmath>
#include <limits>

#include "ui/render/gui_thread.h"
#include "ui/render/plot_chart.h"

namespace moewb {

namespace {

// A CSV cell: quoted when it holds a separator, a quote or a line break (run names are the user's).
QString csv_cell(const QString& text) {
  if (!text.contains(QRegularExpression("[,\"\n\r]"))) return text;
  return '"' + QString(text).replace('"', "\"\"") + '"';
}

}  // namespace

bool plot_shows(const PlotSpec& s, const QPointF& p) {
  return std::isfinite(p.x()) && std::isfinite(p.y()) && !(s.log_y && p.y() <= 0);
}

PlotRange plot_range(const PlotSpec& s) {
  double x0 = std::numeric_limits<double>::max(), x1 = std::numeric_limits<double>::lowest();
  double y0 = x0, y1 = x1;
  for (const auto& series : s.series)
    for (const auto& p : series.points) {
      if (!plot_shows(s, p)) continue;
      if (s.x_range && (p.x() < s.x_range->first || p.x() > s.x_range->second)) continue;
      x0 = std::min(x0, p.x()), x1 = std::max(x1, p.x());
      y0 = std::min(y0, p.y()), y1 = std::max(y1, p.y());
    }
  PlotRange r;
  if (x0 > x1) {
    r.y0 = s.log_y ? 0.1 : 0;
  } else {
    r.empty = false;
    r.x0 = x0, r.x1 = x1 > x0 ? x1 : x0 + 1;
    if (r.x0 > 0 && r.x0 < 0.1 * (r.x1 - r.x0)) r.x0 = 0;  // a step axis starts at 0, not at the first log step
    if (s.log_y) {
      r.y0 = y0 / 1.1, r.y1 = y1 * 1.1;
    } else {
      const double span = y1 - y0;
      const double margin = span > 0 ? span * 0.05 : std::max(std::abs(y0) * 0.05, 1e-3);
      r.y0 = y0 - margin, r.y1 = y1 + margin;
    }
  }
  if (s.y_range && !s.log_y) r.y0 = s.y_range->first, r.y1 = s.y_range->second;
  if (s.x_range && s.x_range->second > s.x_range->first) r.x0 = s.x_range->first, r.x1 = s.x_range->second;
  return r;
}

const PlotSeries* PlotSpec::find(const QString& series_name) const {
  for (const auto& s : series)
    if (s.name == series_name) return &s;
  return nullptr;
}

QPointF PlotLayout::map(QPointF d) const {
  const double fx = (d.x() - x0) / (x1 - x0);
  const double fy = log_y ? (std::log(d.y()) - std::log(y0)) / (std::log(y1) - std::log(y0)) : (d.y() - y0) / (y1 - y0);
  return {plot.left() + fx * plot.width(), plot.bottom() - fy * plot.height()};
}

PlotLayout PlotFigure::layout(const QSizeF& size, const FigureStyle& st) const {
  PlotLayout l;
  run_on_gui_thread([&] {
    QGraphicsScene scene;
    auto* chart = new QChart;  // owned by the scene
    scene.addItem(chart);
    chart->resize(size);
    PlotChart plot(chart);
    plot.show(spec_, st);
    l = plot.layout();
  });
  return l;
}

// The painter may belong to a worker (Export all figures): it waits while the GUI thread draws on it.
void PlotFigure::paint(QPainter& p, const QRectF& target, const FigureStyle& st) const {
  if (target.width() <= 0 || target.height() <= 0) return;  // an empty source would make the scene render it all
  run_on_gui_thread([&] {
    QGraphicsScene scene;
    auto* chart = new QChart;
    scene.addItem(chart);
    chart->resize(target.size());
    PlotChart(chart).show(spec_, st);
    p.save();
    p.setRenderHint(QPainter::Antialiasing);
    p.setRenderHint(QPainter::TextAntialiasing);
    scene.render(&p, target, QRectF(QPointF(0, 0), target.size()), Qt::IgnoreAspectRatio);
    p.restore();
  });
}

std::optional<PlotReadout> PlotFigure::readout(const PlotLayout& l, double x) const {
  auto in_view = [&](const QPointF& p) { return plot_shows(spec_, p) && p.x() >= l.x0 && p.x() <= l.x1; };
  std::optional<double> nearest;
  for (const auto& s : spec_.series)
    for (const auto& p : s.points)
      if (in_view(p) && (!nearest || std::abs(p.x() - x) < std::abs(*nearest - x))) nearest = p.x();
  if (!nearest) return std::nullopt;
  PlotReadout r;
  r.x = *nearest;
  for (const auto& s : spec_.series) {
    const QPointF* best = nullptr;
    for (const auto& p : s.points)
      if (plot_shows(spec_, p) && (!best || std::abs(p.x() - r.x) < std::abs(best->x() - r.x))) best = &p;
    if (best) r.values << PlotReadoutValue{s.name, s.color, *best};
  }
  return r;
}

QString PlotFigure::csv() const {
  QString out = QString("# figure: %1%2\n# x: %3\n# y: %4\nseries,x,y\n")
                    .arg(spec_.title, spec_.subtitle.isEmpty() ? QString() : " — " + spec_.subtitle, spec_.x_description,
                         spec_.y_description);
  for (const auto& s : spec_.series)
    for (const auto& point : s.points)
      out += QString("%1,%2,%3\n").arg(csv_cell(s.name)).arg(point.x(), 0, 'g', 17).arg(point.y(), 0, 'g', 17);
  return out;
}

QString PlotFigure::json() const {
  QJsonArray series;
  for (const auto& s : spec_.series) {
    QJsonArray points;
    for (const auto& point : s.points) points.append(QJsonArray{point.x(), point.y()});
    series.append(QJsonObject{{"name", s.name}, {"points", points}});
  }
  const QJsonObject root{{"figure", spec_.title}, {"subtitle", spec_.subtitle}, {"x", spec_.x_description},
                         {"y", spec_.y_description}, {"series", series}};
  return QString::fromUtf8(QJsonDocument(root).toJson());
}

}  // namespace moewb
