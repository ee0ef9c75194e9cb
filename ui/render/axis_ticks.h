// Where an axis puts its ticks and what they say, from the axis range and its length on the figure, so an
// exported figure gets ticks for its own size (4 to 8 of them) rather than for the widget on screen.
#pragma once

#include <QString>

#include <vector>

namespace moewb {

struct AxisTicks {
  std::vector<double> values;
  std::vector<QString> labels;  // distinct, with the decimals the step needs
  QString multiplier;           // "×10⁻⁴" when labels are scaled (tiny or huge values), else empty
};

// How many ticks an axis of this length (logical pixels) should aim at: one per `spacing` pixels, 4 to 8.
int tick_target(double length, double spacing);
// Ticks at multiples of 1, 2, 2.5 or 5 x 10^n inside [lo, hi], between 4 and max_ticks (at most 8) when the
// range allows, the count closest to target. A small max_ticks (labels that would touch) allows fewer than 4.
AxisTicks linear_ticks(double lo, double hi, int target, int max_ticks = 8);
// Ticks for a log axis: decades when there are 4 or more, else 1-2-5 per decade, else linear steps (a log
// axis over a short range, like a loss from 1.4 to 4.2).
AxisTicks log_ticks(double lo, double hi, int target);

}  // namespace moewb
