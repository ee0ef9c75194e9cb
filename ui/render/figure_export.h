// Figure export: one function takes a path, a figure and options and opens no dialog (the dialog is
// ExportDialog). The figure is laid out at its logical size (1/96 inch units, fonts in points) and then
// rasterised at the chosen DPI (PNG) or written as vectors (SVG, PDF: text as text, cells as rectangles, fonts
// embedded in the PDF), so the layout is the same at every resolution. The GUI, "Export all figures" and
// `moewb-cli export` share this code path.
#pragma once

#include <QSizeF>
#include <QString>

#include "ui/render/figure.h"

namespace moewb {

enum class FigureFormat { Png, Svg, Pdf };

struct ExportOptions {
  FigureFormat format = FigureFormat::Png;
  QSizeF size{800, 500};     // in pixels at 96 DPI, or centimetres; the height is ignored for figures whose
                             // height follows their width (wrapped text)
  bool centimetres = false;
  int dpi = 150;             // PNG resolution (24..1200)
  bool transparent = false;  // background: transparent or the style's (white)
  QString style = "screen";  // FigureStyle::names()
};

// The format named by a file suffix (png, svg, pdf); throws std::invalid_argument otherwise.
FigureFormat format_of(const QString& suffix);
QString suffix_of(FigureFormat format);
// The logical (96 DPI) size the figure is laid out at: the options' size, the height from the figure's
// heightForWidth when it has one.
QSizeF export_size(const Figure& figure, const ExportOptions& o);
// Pixel size of a PNG export of a figure laid out at `logical`: scaled by dpi / 96.
QSize png_pixel_size(const QSizeF& logical, int dpi);
// The style the options name, with a transparent background when asked.
FigureStyle export_style(const ExportOptions& o);

// Throws std::invalid_argument for bad options and std::runtime_error naming the path when the file cannot
// be written; a failed export leaves no file behind.
void export_figure(const QString& path, const Figure& figure, const ExportOptions& options);
// Writes a figure's data (CSV or JSON text) atomically; throws std::runtime_error naming the path.
void export_figure_data(const QString& path, const QString& text);

}  // namespace moewb
