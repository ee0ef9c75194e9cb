// Figure export: one function takes a path, a format and options and opens no dialog (the dialog is
// ExportDialog). PNG is rasterised at the chosen DPI; SVG and PDF stay vector (text as text, cells as
// rectangles; the PDF embeds its fonts). The GUI and the CLI's `export` share this code path.
#pragma once

#include <QColor>
#include <QSizeF>
#include <QString>

#include <functional>

class QPainter;
class QRect;

namespace moewb {

enum class FigureFormat { Png, Svg, Pdf };

struct ExportOptions {
  FigureFormat format = FigureFormat::Png;
  QSizeF size{800, 500};     // in `unit`
  bool centimetres = false;  // size in cm instead of pixels at 96 DPI
  int dpi = 150;             // PNG resolution (96..600); also the SVG/PDF resolution
  bool transparent = false;  // background: transparent or white
};

// Paints the figure into the painter within the rectangle (logical units, 96 per inch).
using FigurePainter = std::function<void(QPainter&, const QRect&)>;

// The format named by a file suffix (png, svg, pdf); throws std::invalid_argument otherwise.
FigureFormat format_of(const QString& suffix);
QString suffix_of(FigureFormat format);
// Pixel size of a PNG export: the logical size scaled by dpi / 96 (or cm -> inches -> dots).
QSize png_pixel_size(const ExportOptions& o);
// Logical (96 DPI) size the figure is laid out at.
QSize logical_size(const ExportOptions& o);

// Throws std::runtime_error naming the path when the file cannot be written.
void export_figure(const QString& path, const FigurePainter& paint, const ExportOptions& options);

}  // namespace moewb
