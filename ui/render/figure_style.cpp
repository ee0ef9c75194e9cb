#include "ui/render/figure_style.h"

#include <QImage>

#include <stdexcept>

namespace moewb {

namespace {
QFont unhinted(QFont f, double pt, bool bold) {
  f.setPointSizeF(pt);
  f.setBold(bold);
  // hinting snaps glyphs to the device grid: the layout would then differ between 96 and 600 DPI
  f.setHintingPreference(QFont::PreferNoHinting);
  return f;
}
}  // namespace

QFont FigureStyle::font(double pt, bool bold) const {
  QFont f(serif ? "DejaVu Serif" : "DejaVu Sans");
  f.setStyleHint(serif ? QFont::Serif : QFont::SansSerif);
  return unhinted(f, pt, bold);
}

QFont FigureStyle::mono(double pt) const {
  QFont f("DejaVu Sans Mono");
  f.setStyleHint(QFont::Monospace);
  return unhinted(f, pt, false);
}

FigureStyle FigureStyle::screen() { return FigureStyle{}; }

FigureStyle FigureStyle::paper() {
  FigureStyle s;
  s.name = "paper";
  s.text_pt = 7.5, s.label_pt = 8, s.title_pt = 9, s.char_pt = 5.5;
  s.line_pt = 1.0, s.axis_pt = 0.5;
  s.foreground = Qt::black;
  s.muted = QColor(0x55, 0x55, 0x55);
  s.grid_color = QColor(0xEE, 0xEE, 0xEE);
  return s;
}

FigureStyle FigureStyle::paperSerif() {
  FigureStyle s = paper();
  s.name = "paper-serif";
  s.serif = true;
  return s;
}

QPaintDevice* layout_device() {
  static QImage device = [] {
    QImage image(1, 1, QImage::Format_ARGB32_Premultiplied);
    image.setDotsPerMeterX(3780);  // 96 DPI
    image.setDotsPerMeterY(3780);
    return image;
  }();
  return &device;
}

QStringList FigureStyle::names() { return {"screen", "paper", "paper-serif"}; }

FigureStyle FigureStyle::named(const QString& name) {
  if (name == "screen") return screen();
  if (name == "paper") return paper();
  if (name == "paper-serif") return paperSerif();
  throw std::invalid_argument("unknown figure style '" + name.toStdString() + "' (screen, paper or paper-serif)");
}

}  // namespace moewb
