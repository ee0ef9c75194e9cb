// A line chart widget: it shows a PlotSpec painted by the widget-free PlotFigure renderer (the same code the
// exports use) in the widget's palette, and exports it from its context menu. Series are replaced wholesale;
// one repaint per update.
#pragma once

#include <QWidget>

#include "exportable_figure.h"
#include "plot_figure.h"

namespace moewb {

class LineChart : public QWidget, public ExportableFigure {
  Q_OBJECT

 public:
  explicit LineChart(const QString& title = {}, QWidget* parent = nullptr);

  void setSpec(const PlotSpec& spec);
  const PlotSpec& spec() const { return figure_.spec(); }
  std::unique_ptr<Figure> exportFigure() const override { return std::make_unique<PlotFigure>(figure_); }

  // Building a spec series by series (the Runs overlays).
  void describe(const QString& figureName, const QString& yTitle, const QString& yDescription);
  void addSeries(const QString& name, const QColor& color, qreal weight = 1.0, bool markers = false);
  void setPoints(const QString& name, const QList<QPointF>& points);
  void removeAllSeries();

  const QList<QPointF>& points(const QString& name) const;
  QStringList seriesNames() const;

  QSize sizeHint() const override { return {480, 300}; }
  QSize minimumSizeHint() const override { return {220, 140}; }

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  PlotFigure figure_;
};

}  // namespace moewb
