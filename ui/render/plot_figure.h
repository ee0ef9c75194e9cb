// Line plots: series over a step axis with title, subtitle, axis titles with units, ticks chosen for the
// figure's size, a legend and an optional log y axis. PlotSpec is plain data; PlotFigure exports it by painting
// the same Qt Charts chart the app's LineChart shows (plot_chart.h), and describes its numbers as CSV and JSON.
#pragma once

#include <QColor>
#include <QList>
#include <QPointF>

#include <optional>
#include <utility>

#include "ui/render/axis_ticks.h"
#include "ui/render/figure.h"

namespace moewb {

struct PlotSeries {
  QString name;
  QColor color;
  double weight = 1.0;  // line width in units of the style's line_pt
  bool markers = false;
  QList<QPointF> points;
};

struct PlotSpec {
  QString name = "chart";     // file base name
  QString title;              // what is plotted
  QString subtitle;           // whose: run, layer
  QString x_title = "step";   // axis titles with units
  QString y_title;
  QString x_description = "step (completed training iterations)";  // written into exported data
  QString y_description;
  bool log_y = false;
  std::optional<std::pair<double, double>> y_range;  // fixed range (shares 0..1); else the data's
  // The x range shown (a zoomed view); else the data's. The y axis then fits the points inside it.
  std::optional<std::pair<double, double>> x_range;
  QList<PlotSeries> series;
  bool legend = true;         // shown when there are two series or more
  QString empty_message = "no data yet";

  const PlotSeries* find(const QString& series_name) const;
};

// Where the parts of a plot went at a given size: the chart's data area, its ranges and ticks.
struct PlotLayout {
  QRectF plot;                 // the data area (x0..x1), in the figure's (the chart's) coordinates; the chart's
                               // plot area adds a margin for markers at both ends
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  bool log_y = false;
  AxisTicks x_ticks, y_ticks;
  QPointF map(QPointF data) const;
  double x_at(double px) const { return x0 + (px - plot.left()) / plot.width() * (x1 - x0); }
};

// The ranges a spec shows when nothing is fixed: x over the points (from 0 for a step axis), y over the points
// inside the x range with a margin (a factor on a log axis); spec.x_range and spec.y_range override them.
// `empty` when no point can be shown.
struct PlotRange {
  double x0 = 0, x1 = 100, y0 = 0, y1 = 1;
  bool empty = true;
};
PlotRange plot_range(const PlotSpec& spec);
// Whether a point can be drawn (finite, and positive on a log axis).
bool plot_shows(const PlotSpec& spec, const QPointF& point);

// What a plot shows at one x: the nearest x of any point in view and each series' point nearest to it (its own
// x differs where a series is sparser, such as validation points).
struct PlotReadoutValue {
  QString series;
  QColor color;
  QPointF point;
};
struct PlotReadout {
  double x = 0;
  QList<PlotReadoutValue> values;
};

class PlotFigure : public Figure {
 public:
  explicit PlotFigure(PlotSpec spec = {}) : spec_(std::move(spec)) {}
  const PlotSpec& spec() const { return spec_; }
  PlotSpec& spec() { return spec_; }

  QString name() const override { return spec_.name; }
  QSizeF naturalSize() const override { return {800, 500}; }
  // Builds the chart at the target's size in a scene of its own and renders it there.
  void paint(QPainter& p, const QRectF& target, const FigureStyle& style) const override;
  QString csv() const override;
  QString json() const override;

  // The layout the chart takes at this size (logical pixels), with the data area from (0, 0).
  PlotLayout layout(const QSizeF& size, const FigureStyle& style) const;
  // The readout at data x (a pointer's position mapped through the layout); nothing when no point is in view.
  std::optional<PlotReadout> readout(const PlotLayout& l, double x) const;

 private:
  PlotSpec spec_;
};

}  // namespace moewb
