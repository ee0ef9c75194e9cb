// The char x expert affinity matrix of one layer: rows are the characters of the traced text by descending
// frequency, columns experts, each cell the share of that character's assignments going to the expert.
#pragma once

#include <QTableWidget>

#include "exportable_figure.h"
#include "routing_trace.h"

namespace moewb {

class AffinityView : public QTableWidget, public ExportableFigure {
  Q_OBJECT

 public:
  explicit AffinityView(QWidget* parent = nullptr);
  void setAffinity(const AffinityMatrix& matrix, int layer = 0);

  QString figureName() const override { return QString("affinity_L%1").arg(layer_); }
  QSize naturalSize() const override;
  void paintFigure(QPainter& p, const QRect& target) override;
  QString dataCsv() const override;
  QString dataJson() const override;

 private:
  AffinityMatrix matrix_;
  int layer_ = 0;
};

}  // namespace moewb
