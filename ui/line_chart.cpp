#include "line_chart.h"

#include <QPainter>

namespace moewb {

LineChart::LineChart(const QString& title, QWidget* parent) : QWidget(parent) {
  figure_.spec().title = title;
  setFocusPolicy(Qt::ClickFocus);
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

void LineChart::paintEvent(QPaintEvent*) {
  QPainter p(this);
  figure_.paint(p, rect(), screen_style(this));
}

}  // namespace moewb
