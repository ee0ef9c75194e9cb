#include "ui/render/heatmap_geometry.h"

#include <algorithm>
#include <cmath>

namespace moewb {

std::optional<int> HeatmapGeometry::columnAt(double x) const {
  if (x < left || cell_width <= 0) return std::nullopt;
  const double grid_x = x - left + scroll_x;
  const int column = static_cast<int>(std::floor(grid_x / cell_width));
  if (column < 0 || column >= columns) return std::nullopt;
  return column;
}

std::optional<HeatmapCell> HeatmapGeometry::cellAt(const QPointF& p) const {
  if (p.y() < top || p.y() >= gridBottom()) return std::nullopt;
  const auto column = columnAt(p.x());
  if (!column) return std::nullopt;
  const int row = static_cast<int>(std::floor((p.y() - top) / row_height));
  return HeatmapCell{std::clamp(row, 0, rows - 1), *column};
}

std::pair<int, int> HeatmapGeometry::visibleColumns(double viewportWidth) const {
  if (cell_width <= 0 || columns == 0) return {0, 0};
  const int first = std::max(0, static_cast<int>(std::floor(scroll_x / cell_width)));
  const int last = std::min(columns, static_cast<int>(std::ceil((scroll_x + viewportWidth - left) / cell_width)) + 1);
  return {first, std::max(first, last)};
}

}  // namespace moewb
