// Where each heatmap cell is drawn and which cell is under a point: a plain value type, so the mapping can be
// tested without a widget. Columns are characters; rows are layers (overview) or experts (one layer's detail).
#pragma once

#include <QPointF>
#include <QRectF>

#include <optional>

namespace moewb {

struct HeatmapCell {
  int row = 0;
  int column = 0;
  bool operator==(const HeatmapCell& o) const { return row == o.row && column == o.column; }
};

struct HeatmapGeometry {
  double cell_width = 14;   // pixels per character (the zoom)
  double row_height = 22;
  double left = 64;         // row labels
  double top = 4;
  double scroll_x = 0;      // pixels of the grid scrolled out to the left
  int rows = 0;
  int columns = 0;

  double gridWidth() const { return cell_width * columns; }
  double gridBottom() const { return top + row_height * rows; }
  QRectF cellRect(int row, int column) const {
    return {left + column * cell_width - scroll_x, top + row * row_height, cell_width, row_height};
  }
  // The cell under a widget point, or nothing outside the grid (labels, margins, beyond the last column).
  std::optional<HeatmapCell> cellAt(const QPointF& p) const;
  // The column under x anywhere from the top of the grid to the character strip below it.
  std::optional<int> columnAt(double x) const;
  // The first and one-past-last columns visible in a viewport of the given width (paint only these).
  std::pair<int, int> visibleColumns(double viewportWidth) const;
};

}  // namespace moewb
