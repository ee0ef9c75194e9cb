// A figure as the renderers see it: it paints itself into any rectangle in any style, on any QPainter
// (a widget, a PNG at any DPI, an SVG, a PDF page), and describes the numbers behind it. No widget is
// involved, so the views, the export dialog and `moewb-cli export` all paint the same figure.
#pragma once

#include <QRectF>
#include <QSizeF>
#include <QString>

#include "ui/render/figure_style.h"

class QPainter;

namespace moewb {

class Figure {
 public:
  virtual ~Figure() = default;
  virtual QString name() const = 0;        // file base name
  virtual QSizeF naturalSize() const = 0;  // logical pixels (1/96 inch)
  // The height the figure needs at this width (text wrapped into lines, a table of rows), or 0 when it
  // fits any height.
  virtual double heightForWidth(double width, const FigureStyle& style) const {
    (void)width, (void)style;
    return 0;
  }
  // target is in logical pixels; fonts are in points, so the layout is the same at every resolution.
  virtual void paint(QPainter& p, const QRectF& target, const FigureStyle& style) const = 0;
  // The numbers behind the figure, with a header naming units and conventions.
  virtual QString csv() const = 0;
  virtual QString json() const = 0;
};

}  // namespace moewb
