#include "figure_export.h"

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

QSize logical_size(const ExportOptions& o) {
  const double scale = o.centimetres ? kLogicalDpi / kCmPerInch : 1.0;
  return QSize(static_cast<int>(std::lround(o.size.width() * scale)), static_cast<int>(std::lround(o.size.height() * scale)));
}

QSize png_pixel_size(const ExportOptions& o) {
  // pixels: the logical layout at dpi/96; centimetres: the physical size at dpi
  const double scale = o.centimetres ? o.dpi / kCmPerInch : o.dpi / kLogicalDpi;
  return QSize(static_cast<int>(std::lround(o.size.width() * scale)), static_cast<int>(std::lround(o.size.height() * scale)));
}

void export_figure(const QString& path, const FigurePainter& paint, const ExportOptions& o) {
  if (o.dpi < 24 || o.dpi > 1200) throw std::invalid_argument("DPI must be between 24 and 1200");
  const QSize logical = logical_size(o);
  if (logical.isEmpty()) throw std::invalid_argument("the figure size must be positive");
  const QColor background = o.transparent ? QColor(Qt::transparent) : QColor(Qt::white);
  const QRect area(QPoint(0, 0), logical);
  QSaveFile file(path);  // atomic: a failed export leaves no half-written file
  if (!file.open(QIODevice::WriteOnly))
    throw std::runtime_error("cannot write '" + path.toStdString() + "': " + file.errorString().toStdString());
  switch (o.format) {
    case FigureFormat::Png: {
      const QSize pixels = png_pixel_size(o);
      QImage image(pixels, QImage::Format_ARGB32_Premultiplied);
      image.setDotsPerMeterX(static_cast<int>(std::lround(o.dpi / 0.0254)));
      image.setDotsPerMeterY(static_cast<int>(std::lround(o.dpi / 0.0254)));
      image.fill(background);
      QPainter p(&image);
      p.setRenderHint(QPainter::Antialiasing);
      p.setRenderHint(QPainter::TextAntialiasing);
      p.scale(static_cast<double>(pixels.width()) / logical.width(), static_cast<double>(pixels.height()) / logical.height());
      paint(p, area);
      p.end();
      if (!image.save(&file, "PNG")) throw std::runtime_error("cannot encode PNG '" + path.toStdString() + "'");
      break;
    }
    case FigureFormat::Svg: {
      QSvgGenerator svg;
      svg.setOutputDevice(&file);
      svg.setSize(logical);
      svg.setViewBox(area);
      svg.setResolution(static_cast<int>(kLogicalDpi));
      svg.setTitle(QFileInfo(path).completeBaseName());
      svg.setDescription("MoE Routing Workbench figure");
      QPainter p(&svg);
      if (!o.transparent) p.fillRect(area, background);
      paint(p, area);
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
      if (!o.transparent) p.fillRect(area, background);
      paint(p, area);
      p.end();
      break;
    }
  }
  if (!file.commit()) throw std::runtime_error("cannot write '" + path.toStdString() + "': " + file.errorString().toStdString());
}

}  // namespace moewb
