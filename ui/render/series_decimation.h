// What a line needs to look the same at the resolution it is drawn: in each pixel column its lowest and highest
// point (min/max decimation), so a run of 50,000 logged steps draws about a thousand points (Qt Charts spends
// about 3 µs on each drawn point per update here) while the data, its exports and the hover readout keep every
// point.
#pragma once

#include <QList>
#include <QPointF>

namespace moewb {

// The points of a line in x order drawn over [x0, x1] at `columns` pixel columns: at most two per column (its
// extremes, in their order), plus the nearest point on each side of the range so the line reaches the edges.
// Points not in x order, or too few to matter, come back as they are.
QList<QPointF> decimate_for_columns(const QList<QPointF>& points, double x0, double x1, int columns);

}  // namespace moewb
