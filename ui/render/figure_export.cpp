#include "ui/render/figure_export.h"

#include <QFileInfo>
#include <QImage>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSvgGenerator>

#include <cmath>
#include <stdexcept>

namespace moewb {

namespace {
constexpr double kLogicalDpi = 96.0;
constexpr double kCmPerInch = 2.54;
constexpr double kMetresPerInch = 0.0254;

int dots_per_metre(double dpi) { return static_cast<int>(std::lround(dpi / kMetresPerInch)); }
}  // namespace

FigureFormat format_of(const QString& suffix) {
  const QString s = suffix.toLower();
  if (s == "png") return FigureFormat::Png;
  if (s == "svg") return FigureFormat::Svg;
  if (s == "pdf") return FigureFormat::Pdf;
  throw std::invalid_argument("unknown figure format '" + suffix.toStdString() + "' (png, svg or pdf)");
}

QString suffix_of(FigureFormat format) {
  switch (format) {
    case FigureFormat::Png: return "png";
    case FigureFormat::Svg: return "svg";
    case FigureFormat::Pdf: return "pdf";
  }
  return {};
}

FigureStyle export_style(const ExportOptions& o) {
  FigureStyle style = FigureStyle::named(o.style);
  if (o.transparent) style.background = Qt::transparent;
  return style;
}

QSizeF export_size(const Figure& figure, const ExportOptions& o) {
  const double scale = o.centimetres ? kLogicalDpi / kCmPerInch : 1.0;
  const double width = o.size.width() * scale;
  const double follows = figure.heightForWidth(width, export_style(o));
  return {width, follows > 0 ? follows : o.size.height() * scale};
}

QSize png_pixel_size(const QSizeF& logical, int dpi) {
  const double scale = dpi / kLogicalDpi;
  return {static_cast<int>(std::lround(logical.width() * scale)), static_cast<int>(std::lround(logical.height() * scale))};
}

void export_figure(const QString& path, const Figure& figure, const ExportOptions& o) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if ((suffix == "png" || suffix == "svg" || suffix == "pdf") && suffix != suffix_of(o.format))
    throw std::invalid_argument("'" + QFileInfo(path).fileName().toStdString() + "' names a ." + suffix.toStdString() +
                                " file but the format is " + suffix_of(o.format).toUpper().toStdString() +
                                ": the file would hold another format than its name says");
  if (o.dpi < 24 || o.dpi > 1200) throw std::invalid_argument("DPI must be between 24 and 1200");
  const FigureStyle style = export_style(o);
  const QSizeF logical = export_size(figure, o);
  if (!(logical.width() >= 1 && logical.height() >= 1)) throw std::invalid_argument("the figure size must be positive");
  if (png_pixel_size(logical, o.dpi).width() > 30000 || png_pixel_size(logical, o.dpi).height() > 30000)
    throw std::invalid_argument("the figure would be larger than 30000 pixels on a side: choose a smaller size or DPI");
  const QRectF area(QPointF(0, 0), logical);
  QSaveFile file(path);  // atomic: a failed export leaves no half-written file
  if (!file.open(QIODevice::WriteOnly))
    throw std::runtime_error("cannot write '" + path.toStdString() + "': " + file.errorString().toStdString());
  switch (o.format) {
    case FigureFormat::Png: {
      const QSize pixels = png_pixel_size(logical, o.dpi);
      QImage image(pixels, QImage::Format_ARGB32_Premultiplied);
      // Paint at 96 logical DPI so points map to the same logical pixels as on screen, SVG and PDF; the
      // painter's scale does the resolution. The image is tagged with the real DPI only when saved.
      image.setDotsPerMeterX(dots_per_metre(kLogicalDpi));
      image.setDotsPerMeterY(dots_per_metre(kLogicalDpi));
      image.fill(Qt::transparent);
      QPainter p(&image);
      p.setRenderHint(QPainter::Antialiasing);
      p.setRenderHint(QPainter::TextAntialiasing);
      p.scale(pixels.width() / logical.width(), pixels.height() / logical.height());
      figure.paint(p, area, style);
      p.end();
      image.setDotsPerMeterX(dots_per_metre(o.dpi));
      image.setDotsPerMeterY(dots_per_metre(o.dpi));
      if (!image.save(&file, "PNG")) throw std::runtime_error("cannot encode PNG '" + path.toStdString() + "'");
      break;
    }
    case FigureFormat::Svg: {
      QSvgGenerator svg;
      svg.setOutputDevice(&file);
      svg.setSize(logical.toSize());
      svg.setViewBox(area);
      svg.setResolution(static_cast<int>(kLogicalDpi));
      svg.setTitle(QFileInfo(path).completeBaseName());
      svg.setDescription("MoE Routing Workbench figure");
      QPainter p(&svg);
      figure.paint(p, area, style);
      p.end();
      break;
    }
    case FigureFormat::Pdf: {
      QPdfWriter pdf(&file);
      pdf.setResolution(static_cast<int>(kLogicalDpi));
      pdf.setPageSize(QPageSize(QSizeF(logical.width() * 25.4 / kLogicalDpi, logical.height() * 25.4 / kLogicalDpi),
                                QPageSize::Millimeter));
      pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
      pdf.setTitle(QFileInfo(path).completeBaseName());
      pdf.setCreator("MoE Routing Workbench");
      QPainter p(&pdf);
      figure.paint(p, area, style);
      p.end();
      break;
    }
  }
  if (!file.commit()) throw std::runtime_error("cannot write '" + path.toStdString() + "': " + file.errorString().toStdString());
}

void export_figure_data(const QString& path, const QString& text) {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly) || file.write(text.toUtf8()) < 0 || !file.commit())
    throw std::runtime_error("cannot write '" + path.toStdString() + "': " + file.errorString().toStdString());
}

}  // namespace moewb
