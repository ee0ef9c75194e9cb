// The routing-stability heatmap of one layer on screen: rows = consecutive snapshot pairs (labelled by step and
// the share of characters that changed), columns = the probe text's characters, a changed cell in the new top
// expert's colour, the summary band counting each character's changes. Painted by the widget-free renderer
// (render/stability_figure.h); only visible cells are painted. Scrolls both ways (wheel: rows when they
// overflow, Shift+wheel: characters; Ctrl+wheel zooms), and the keyboard moves a current cell (arrows, Home/End,
// PgUp/PgDn) whose description the owner shows in a status line. Exports the whole matrix wrapped into lines.
#pragma once

#include "ui/render/stability_figure.h"
#include "ui/routing/heatmap_scroll_area.h"

namespace moewb {

class StabilityHeatmap : public HeatmapScrollArea {
  Q_OBJECT

 public:
  explicit StabilityHeatmap(QWidget* parent = nullptr);

  std::unique_ptr<Figure> exportFigure() const override;

  void setMatrix(const TopExpertChangeMatrix& matrix);
  const TopExpertChangeMatrix& matrix() const { return matrix_; }
  // The exported figure's title and subtitle (run, routing); the message an empty matrix shows.
  void setDescription(const QString& title, const QString& subtitle = {});
  void setEmptyMessage(const QString& message);
  // The current (pinned) cell: row -1 is the summary band; column -1 clears it.
  void setCurrentCell(int row, int column);
  int currentRow() const { return view_.pinned_row; }
  int currentColumn() const { return view_.pinned_column; }
  void scrollToCell(int row, int column);
  StabilityGeometry geometry() const;
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 Q_SIGNALS:
  void currentChanged(int row, int column);
  void hovered(int row, int column);  // column -1: left the cells

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  double gridLeft() const override;
  void updateScrollBars() override;
  void clearHover() override;
  // Rows when they overflow; characters with Shift or a sideways wheel.
  void scrollWheel(const QWheelEvent& event, double steps) override;

 private:
  double belowGrid() const;  // characters, summary band, legend

  TopExpertChangeMatrix matrix_;
  StabilityView view_;
};

}  // namespace moewb
