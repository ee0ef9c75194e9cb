// A QChartView with named line series over a shared step axis: series are replaced wholesale
// (QXYSeries::replace, one repaint) and the axes follow the data; the y axis can switch to log scale.
#pragma once

#include <QChartView>
#include <QMap>
#include <QPointF>

#include "exportable_figure.h"

class QAbstractAxis;
class QLineSeries;
class QValueAxis;

namespace moewb {

class LineChart : public QChartView, public ExportableFigure {
  Q_OBJECT

 public:
  LineChart(const QString& title, const QString& yLabel, QWidget* parent = nullptr);

  // File name and the units written into exported data.
  void describe(const QString& figureName, const QString& xDescription, const QString& yDescription);
  QString figureName() const override { return figure_name_; }
  QSize naturalSize() const override;
  void paintFigure(QPainter& p, const QRect& target) override;
  QString dataCsv() const override;
  QString dataJson() const override;

  void addSeries(const QString& name, const QColor& color, qreal width = 2.0, bool markers = false);
  void setPoints(const QString& name, const QList<QPointF>& points);
  const QList<QPointF>& points(const QString& name) const;
  void removeAllSeries();
  void setLogScale(bool on);
  void setYLabelFormat(const QString& format);
  bool logScale() const { return log_scale_; }
  QStringList seriesNames() const { return series_.keys(); }

 protected:
  void resizeEvent(QResizeEvent* event) override;

 private:
  void rescale();
  void attachY();

  QMap<QString, QLineSeries*> series_;
  QMap<QString, QList<QPointF>> data_;
  QValueAxis* x_axis_;
  QAbstractAxis* y_axis_ = nullptr;
  QString y_label_, y_format_ = "%.3g";
  QString figure_name_ = "chart", x_description_ = "step (completed training iterations)", y_description_;
  bool log_scale_ = false;
};

}  // namespace moewb
