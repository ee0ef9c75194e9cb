#include "ui/render/series_decimation.h"

#include <algorithm>
#include <cmath>

namespace moewb {

namespace {

bool in_x_order(const QList<QPointF>& points) {
  return std::is_sorted(points.begin(), points.end(), [](const QPointF& a, const QPointF& b) { return a.x() < b.x(); });
}

}  // namespace

QList<QPointF> decimate_for_columns(const QList<QPointF>& points, double x0, double x1, int columns) {
  if (columns < 1 || !(x1 > x0) || points.size() <= 2 * static_cast<qsizetype>(columns) || !in_x_order(points))
    return points;
  QList<QPointF> kept;
  kept.reserve(2 * columns + 2);
  const double per_column = columns / (x1 - x0);
  // the column of x; x1 itself belongs to the last one
  const auto column_of = [&](double x) { return std::min(static_cast<long>(std::floor((x - x0) * per_column)), columns - 1L); };
  qsizetype i = 0;
  const qsizetype n = points.size();
  while (i < n && points[i].x() < x0) ++i;
  if (i > 0) kept << points[i - 1];  // the line enters the view from the left
  while (i < n && points[i].x() <= x1) {
    // one column: the run of points that fall into it
    const long column = column_of(points[i].x());
    qsizetype low = i, high = i;
    for (++i; i < n && points[i].x() <= x1 && column_of(points[i].x()) == column; ++i) {
      if (points[i].y() < points[low].y()) low = i;
      if (points[i].y() > points[high].y()) high = i;
    }
    kept << points[std::min(low, high)];
    if (high != low) kept << points[std::max(low, high)];
  }
  if (i < n) kept << points[i];  // and leaves it to the right
  return kept;
}

}  // namespace moewb
