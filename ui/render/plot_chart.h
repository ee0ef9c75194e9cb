// A PlotSpec shown as a Qt Charts chart: line series (split where a point cannot be drawn, decimated to a few
// points per pixel column), two axes titled and ticked for the data area's size, a legend, and the colours and
// fonts of a FigureStyle. The app's LineChart keeps one over its QChartView's chart and updates it in place
// (QXYSeries::replace); PlotFigure builds one in a scene of its own to paint an export. One chart, every output.
//
// Both axes are QCategoryAxis with labels on values: the ticks and labels come from axis_ticks.h (nice numbers
// for the axis length, distinct labels, a ×10ⁿ multiplier in the title), which QValueAxis's printf formats and
// QLogValueAxis's decade-only ticks cannot give (a loss from 1.4 to 4.2 on a log axis has no decade inside). A
// log y axis therefore shows log10 of the values on a linear axis, labelled with the values.
#pragma once

#include <QList>
#include <QPointF>
#include <QString>

#include <vector>

#include "ui/render/figure_style.h"
#include "ui/render/plot_figure.h"

class QChart;
class QCategoryAxis;
class QLineSeries;
class QGraphicsSimpleTextItem;

namespace moewb {

class PlotChart {
 public:
  // Fills this chart (it owns what is added) and styles it on every show().
  explicit PlotChart(QChart* chart);
  PlotChart(const PlotChart&) = delete;
  PlotChart& operator=(const PlotChart&) = delete;

  // Shows the spec at the chart's current size: series with the same names as before get their points
  // replaced, others are rebuilt; axis ranges and ticks follow the data area the chart lays out.
  void show(const PlotSpec& spec, const FigureStyle& style);
  // Where the last show() put things, in the chart's coordinates.
  const PlotLayout& layout() const { return layout_; }
  QChart* chart() const { return chart_; }
  // The points drawn for a spec series (its segments together, after decimation; log10 y on a log axis).
  qsizetype drawnPoints(const QString& series) const;

 private:
  struct Line {
    QString name;
    std::vector<QLineSeries*> segments;  // one per unbroken run of drawable points; at least one
  };

  void styleChart(const PlotSpec& spec, const FigureStyle& style);
  void setSeries(const PlotSpec& spec, const FigureStyle& style, const PlotRange& range, int columns);
  void placeLegend(const PlotSpec& spec, const FigureStyle& style);
  void setTicks(const PlotSpec& spec, const FigureStyle& style, const PlotRange& range);
  QLineSeries* addSegment(Line& line);

  QChart* chart_;
  QCategoryAxis* x_axis_;
  QCategoryAxis* y_axis_;
  QGraphicsSimpleTextItem* empty_;
  std::vector<Line> lines_;
  bool legend_ = false;  // whether the legend names the series (two to twenty of them, in rows that fit)
  // what was applied last, to skip what has not changed (each change lays the chart out again)
  QString style_key_, legend_key_;
  bool legend_shown_ = false;
  double legend_band_ = 0;
  PlotLayout layout_;
};

}  // namespace moewb
