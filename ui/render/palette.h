// Colours: a colour-blind-safe categorical palette for experts (Okabe-Ito, then Paul Tol's "muted", then
// evenly spaced hues for N > 17) and fixed colours for the standard series.
#pragma once

#include <QColor>

namespace moewb {

QColor expert_color(int expert);
// Viridis (perceptually uniform) at t in [0, 1].
QColor viridis(double t);
// The expert colour faded towards white as the weight falls: weight 1 = full colour.
QColor weighted_expert_color(int expert, double weight);

namespace series_color {
inline const QColor train{0x00, 0x72, 0xB2};
inline const QColor train_raw{0x00, 0x72, 0xB2, 70};
inline const QColor val{0xD5, 0x5E, 0x00};
inline const QColor neutral{0x44, 0x44, 0x44};
}  // namespace series_color

}  // namespace moewb
