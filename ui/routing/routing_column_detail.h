// One character under the microscope: for the pinned (else hovered) character, every layer's router output as
// a row of per-expert probability bars in the experts' colours, the chosen experts outlined with their combine
// weights, drops hatched. Sits beside the reading view in the Routing tab.
#pragma once

#include <QWidget>

#include "core/trace/routing_trace.h"

namespace moewb {

class RoutingColumnDetail : public QWidget {
  Q_OBJECT

 public:
  explicit RoutingColumnDetail(QWidget* parent = nullptr);

  void setTrace(const RoutingTrace& trace);
  void setPosition(int position);
  int position() const { return position_; }
  // The layer drawn emphasised (the reading view's).
  void setCurrentLayer(int layer);

  QSize sizeHint() const override { return {300, 240}; }
  QSize minimumSizeHint() const override { return {180, 120}; }

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  RoutingTrace trace_;
  int position_ = -1, layer_ = 0;
};

}  // namespace moewb
