// How a figure looks, independent of its size and resolution: font sizes and line widths in points, colours.
// "screen" is the app's look; "paper" and "paper-serif" are for publication (8-9 pt text at the final size,
// thin lines, a light grid). Every style keeps the colour-blind-safe palettes of palette.h.
#pragma once

#include <QColor>
#include <QFont>
#include <QStringList>

class QPaintDevice;

namespace moewb {

// Logical pixels (1/96 inch: the unit every renderer lays out in) per typographic point (1/72 inch).
constexpr double kPxPerPt = 96.0 / 72.0;

struct FigureStyle {
  QString name = "screen";
  bool serif = false;
  double text_pt = 8.5;   // tick labels, legends, notes
  double label_pt = 9;    // axis titles
  double title_pt = 10;   // figure title (bold)
  double char_pt = 6.5;   // characters of a routing figure's text lines
  double line_pt = 1.5;   // width of a data series of weight 1
  double axis_pt = 0.75;  // axes, ticks and frames
  bool grid = true;
  QColor background{Qt::white};
  QColor foreground{0x20, 0x20, 0x20};
  QColor muted{0x66, 0x66, 0x66};
  QColor grid_color{0xE4, 0xE4, 0xE4};

  // A sans (or serif) font at pt points; never hinted, so text scales exactly with the resolution.
  QFont font(double pt, bool bold = false) const;
  QFont mono(double pt) const;
  double px(double pt) const { return pt * kPxPerPt; }

  static FigureStyle screen();
  static FigureStyle paper();
  static FigureStyle paperSerif();
  // "screen", "paper" or "paper-serif"; throws std::invalid_argument naming the choices otherwise.
  static FigureStyle named(const QString& name);
  static QStringList names();
};

// A 96-DPI device to measure text on when no painter is at hand (layouts computed before painting): the
// same metrics as the PNG, SVG and PDF exports, which all paint at 96 logical DPI.
QPaintDevice* layout_device();

}  // namespace moewb
