// The Routing tab's Stability page: above, the per-layer curve of the share of probe characters whose top
// expert changed since the previous snapshot (owned by RoutingPanel); below, for one layer, the heatmap of
// which characters changed between each pair of consecutive snapshots and to which expert, with a status line
// describing the hovered or current cell (keyboard users read it there).
#pragma once

#include <QList>
#include <QWidget>

#include <vector>

#include "core/config/config.h"
#include "core/trace/routing_trace.h"

class QComboBox;
class QLabel;
class QSlider;

namespace moewb {

class LineChart;
class StabilityHeatmap;

class StabilityPage : public QWidget {
  Q_OBJECT

 public:
  // curve: the stability curve, placed above the heatmap.
  explicit StabilityPage(LineChart* curve, QWidget* parent = nullptr);

  // The run's routing snapshots in step order; the chosen layer is kept when the model keeps its layers.
  void setSnapshots(const QList<RoutingTrace>& snapshots);
  // Whose snapshots: the run's display name and configuration, named in the figure's subtitle.
  void setRunName(const QString& name, const Config& config);
  // The layer of the heatmap (the last by default, where routing usually settles last).
  void setLayer(int layer);
  int layer() const;
  StabilityHeatmap* heatmap() const { return heatmap_; }
  QComboBox* layerCombo() const { return layer_; }
  // The description of the hovered cell, else of the current cell.
  QString statusText() const;

 private:
  void refresh();
  void describe(int row, int column);

  std::vector<RoutingTrace> snapshots_;
  QString run_name_;
  Config config_;
  QComboBox* layer_;
  QSlider* zoom_;
  StabilityHeatmap* heatmap_;
  QLabel* status_;
};

}  // namespace moewb
