// The char x expert affinity matrix of one layer: rows are the characters of the traced text by descending
// frequency, columns experts, each cell the share of that character's assignments going to the expert.
#pragma once

#include <QTableWidget>

#include "routing_trace.h"

namespace moewb {

class AffinityView : public QTableWidget {
  Q_OBJECT

 public:
  explicit AffinityView(QWidget* parent = nullptr);
  void setAffinity(const AffinityMatrix& matrix);
};

}  // namespace moewb
