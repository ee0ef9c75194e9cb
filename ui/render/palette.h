// Colours: a colour-blind-safe categorical palette for experts (after Okabe-Ito, then Paul Tol's "muted", then
// evenly spaced hues for N > 17) and fixed colours for the standard series. Every expert colour has a contrast of
// 3 at least on white (WCAG's for graphics); on a dark background (a dark theme on screen) readable_on() lifts
// the colours too dark to see.
#pragma once

#include <QColor>
#include <QPalette>

namespace moewb {

// The expert's colour on the given background: the paper colour, lifted by readable_on() on dark ones.
QColor expert_color(int expert, const QColor& background = Qt::white);
// Viridis (perceptually uniform) at t in [0, 1].
QColor viridis(double t);
// The expert colour faded towards white as the weight falls: weight 1 = full colour.
QColor weighted_expert_color(int expert, double weight, const QColor& background = Qt::white);

// A background that needs the dark-theme colours; a transparent one (exports) counts as paper.
bool is_dark(const QColor& background);
// WCAG 2 contrast ratio of two opaque colours: 1 (same luminance) to 21 (black on white).
double contrast_ratio(const QColor& a, const QColor& b);
// WCAG 2.1 asks non-text graphics (lines, swatches) for a contrast ratio of 3 against their background.
constexpr double kMinGraphicContrast = 3.0;
// The colour itself when it reaches kMinGraphicContrast on the background (a transparent one counts as white);
// else on a dark background greys (Okabe-Ito's black) become light grey and other hues get lighter until they
// reach it, on a light one colours get darker until they do. Alpha is kept.
QColor readable_on(const QColor& color, const QColor& background);
// A dark palette for the Fusion style: --theme dark, where no desktop theme supplies one.
QPalette dark_palette();

namespace series_color {
inline const QColor train{0x00, 0x72, 0xB2};
inline const QColor train_raw{0x00, 0x72, 0xB2, 70};
inline const QColor val{0xD5, 0x5E, 0x00};
inline const QColor neutral{0x44, 0x44, 0x44};
}  // namespace series_color

}  // namespace moewb
