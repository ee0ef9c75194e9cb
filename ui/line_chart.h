// A line chart widget: it shows a PlotSpec painted by the widget-free PlotFigure renderer (the same code the
// exports use) in the widget's palette, and exports it from its context menu. Series are replaced wholesale;
// one repaint per update.
//
// Inspection: hovering shows a guide line at the nearest data x and a readout of every series there; the wheel
// zooms the x range around the pointer, a left drag pans it, and a double click, R or the context menu's
// "Reset zoom" returns to the automatic range. A zoomed view stays put while new points arrive.
#pragma once

#include <QWidget>

#include <optional>
#include <utility>

#include "exportable_figure.h"
#include "plot_figure.h"

namespace moewb {

class LineChart : public QWidget, public ExportableFigure {
  Q_OBJECT

 public:
  explicit LineChart(const QString& title = {}, QWidget* parent = nullptr);

  void setSpec(const PlotSpec& spec);
  const PlotSpec& spec() const { return figure_.spec(); }
  // The figure as shown: the zoomed x range too, so an export shows what is on screen.
  std::unique_ptr<Figure> exportFigure() const override { return std::make_unique<PlotFigure>(shownFigure()); }
  void addViewActions(QMenu* menu) override;

  // Building a spec series by series (the Runs overlays).
  void describe(const QString& figureName, const QString& yTitle, const QString& yDescription);
  void addSeries(const QString& name, const QColor& color, qreal weight = 1.0, bool markers = false);
  void setPoints(const QString& name, const QList<QPointF>& points);
  void removeAllSeries();

  const QList<QPointF>& points(const QString& name) const;
  QStringList seriesNames() const;

  // What the hover readout shows for a pointer at widgetPos; nothing outside the data area or without data.
  std::optional<PlotReadout> readoutAt(QPointF widgetPos) const;
  // The x range shown now (zoomed or automatic) and the data area, in widget coordinates.
  std::pair<double, double> xRange() const;
  QRectF plotArea() const;
  bool isZoomed() const { return view_x_.has_value(); }
  void resetZoom();

  QSize sizeHint() const override { return {480, 300}; }
  QSize minimumSizeHint() const override { return {220, 140}; }

 protected:
  void paintEvent(QPaintEvent* event) override;
  void changeEvent(QEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void leaveEvent(QEvent* event) override;

 private:
  PlotFigure shownFigure() const;
  PlotLayout currentLayout() const;
  void paintZoomHint(QPainter& p, const FigureStyle& st) const;
  void paintReadout(QPainter& p, const PlotLayout& l, const PlotReadout& r, const FigureStyle& st) const;

  PlotFigure figure_;
  std::optional<std::pair<double, double>> view_x_;  // set while zoomed or panned
  std::optional<QPointF> hover_;
  struct Drag {
    QPointF from;
    std::pair<double, double> range;
  };
  std::optional<Drag> drag_;
};

}  // namespace moewb
