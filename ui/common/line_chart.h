// A line chart widget: a Qt Charts QChartView whose chart shows a PlotSpec through PlotChart (the same chart the
// exports render) in the widget's palette, and exports it from its context menu. A new spec replaces each
// series' points in place (QXYSeries::replace), decimated to the pixel columns; the spec keeps every point for
// the readout and the data exports.
//
// Inspection: hovering shows a guide line at the nearest data x and a readout of every series there; the wheel
// zooms the x range around the pointer (y fits what is in view), a left drag pans it, and a double click, R or
// the context menu's "Reset zoom" returns to the automatic range. A zoomed view stays put while new points arrive.
#pragma once

#include <QChartView>

#include <memory>
#include <optional>
#include <utility>

#include "ui/export/exportable_figure.h"
#include "ui/render/plot_chart.h"
#include "ui/render/plot_figure.h"

namespace moewb {

class LineChart : public QChartView, public ExportableFigure {
  Q_OBJECT

 public:
  explicit LineChart(const QString& title = {}, QWidget* parent = nullptr);
  ~LineChart() override;

  void setSpec(const PlotSpec& spec);
  const PlotSpec& spec() const { return spec_; }
  // The figure as shown: the zoomed x range too, so an export shows what is on screen.
  std::unique_ptr<Figure> exportFigure() const override { return std::make_unique<PlotFigure>(shownSpec()); }
  void addViewActions(QMenu* menu) override;

  // Building a spec series by series (the Runs overlays).
  void describe(const QString& figureName, const QString& yTitle, const QString& yDescription);
  void addSeries(const QString& name, const QColor& color, qreal weight = 1.0, bool markers = false);
  void setPoints(const QString& name, const QList<QPointF>& points);
  void removeAllSeries();

  const QList<QPointF>& points(const QString& name) const;
  QStringList seriesNames() const;
  // How many points the chart draws for a series now (after decimation).
  qsizetype drawnPoints(const QString& name) const { return plot_.drawnPoints(name); }

  // What the hover readout shows for a pointer at viewport position pos; nothing outside the data area.
  std::optional<PlotReadout> readoutAt(QPointF pos) const;
  // The x range shown now (zoomed or automatic) and the data area, in viewport coordinates.
  std::pair<double, double> xRange() const;
  QRectF plotArea() const;
  bool isZoomed() const { return view_x_.has_value(); }
  void resetZoom();

  QSize sizeHint() const override { return {480, 300}; }
  QSize minimumSizeHint() const override { return {220, 140}; }

 protected:
  void drawForeground(QPainter* painter, const QRectF& rect) override;
  void resizeEvent(QResizeEvent* event) override;
  void changeEvent(QEvent* event) override;
  bool viewportEvent(QEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;

 private:
  PlotSpec shownSpec() const;
  // The spec as shown into the chart, for the chart's size and the widget's palette.
  void refresh();
  PlotLayout viewLayout() const;  // the chart's layout in viewport coordinates
  void paintZoomHint(QPainter& p, const FigureStyle& st) const;
  void paintReadout(QPainter& p, const PlotLayout& l, const PlotReadout& r, const FigureStyle& st) const;

  PlotSpec spec_;
  PlotChart plot_;
  std::optional<std::pair<double, double>> view_x_;  // set while zoomed or panned
  std::optional<QPointF> hover_;
  struct Drag {
    QPointF from;
    std::pair<double, double> range;
  };
  std::optional<Drag> drag_;
};

}  // namespace moewb
