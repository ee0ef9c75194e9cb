#include "ui/render/palette.h"

#include <array>
#include <algorithm>
#include <cmath>

namespace moewb {

namespace {
constexpr double kGreyMaxSaturation = 0.1;
const QColor kLightGrey{0xBB, 0xBB, 0xBB};

// WCAG 2 relative luminance of an sRGB colour.
double luminance(const QColor& c) {
  auto linear = [](double v) { return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * linear(c.redF()) + 0.7152 * linear(c.greenF()) + 0.0722 * linear(c.blueF());
}

// How a colour looks painted over an opaque background: QPainter blends in sRGB.
QColor over(const QColor& color, const QColor& background) {
  const double a = color.alphaF();
  auto mix = [a](double c, double b) { return static_cast<float>(a * c + (1 - a) * b); };
  return QColor::fromRgbF(mix(color.redF(), background.redF()), mix(color.greenF(), background.greenF()),
                          mix(color.blueF(), background.blueF()));
}

double shown_contrast(const QColor& color, const QColor& background) {
  return contrast_ratio(over(color, background), background);
}

// Okabe-Ito's and Tol's colours that reach a contrast of 3 on white as they are, and in place of the lighter
// ones (orange, sky blue, yellow; Tol's cyan, teal, sand) colours that do: E1 is Okabe-Ito's sky blue darkened to
// 3.1, the others were chosen for the largest smallest CIEDE2000 difference to every other colour in normal vision
// and simulated deuteranopia, protanopia and tritanopia (Machado 2009): over E0-E3 it is 12.8, over E0-E7 11.6,
// as Okabe-Ito's own eight (11.6); over all 17 it is 3.9 (the old 17: 3.5).
QColor paper_expert_color(int expert) {
  static const std::array<QRgb, 17> base = {
      0xAF3A3A, 0x1F9AE0, 0x009E73, 0x332288, 0x0072B2, 0xD55E00, 0xCC79A7, 0x000000,             // Okabe-Ito
      0x4300FB, 0x005A60, 0x695FFF, 0x117733, 0x999933, 0x2E5B00, 0xCC6677, 0x882255, 0xAA4499};  // Tol muted
  if (expert >= 0 && expert < static_cast<int>(base.size())) return QColor(base[static_cast<size_t>(expert)]);
  return QColor::fromHsvF(std::fmod(expert * 0.618034, 1.0), 0.55 + 0.3 * (expert % 2), 0.85 - 0.2 * (expert % 3));
}
}  // namespace

QColor expert_color(int expert, const QColor& background) {
  return readable_on(paper_expert_color(expert), background);
}

bool is_dark(const QColor& background) { return background.alpha() > 0 && background.lightnessF() < 0.5; }

double contrast_ratio(const QColor& a, const QColor& b) {
  const double la = luminance(a), lb = luminance(b);
  return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

QColor readable_on(const QColor& color, const QColor& background) {
  const QColor paper = background.alpha() == 0 ? QColor(Qt::white) : background;  // exports: transparent
  const bool dark = is_dark(paper);
  // a translucent colour (the raw loss under its smoothed line) is faint on purpose: it gets back the
  // contrast it has on white, no more
  const double needed = color.alpha() == 255 ? kMinGraphicContrast
                                             : std::min(kMinGraphicContrast, shown_contrast(color, Qt::white));
  if (shown_contrast(color, paper) >= needed) return color;
  QColor out = kLightGrey;
  out.setAlpha(color.alpha());
  if (dark && color.hslSaturationF() < kGreyMaxSaturation) return out;
  // keep hue and saturation so a lifted (darkened) expert stays recognisably "its" colour
  const float h = color.hslHueF(), s = color.hslSaturationF(), step = dark ? 0.02f : -0.02f;
  float l = color.lightnessF();
  do {
    l = std::clamp(l + step, 0.0f, 1.0f);
    out = QColor::fromHslF(h, s, l, color.alphaF());
  } while (l > 0.0f && l < 1.0f && shown_contrast(out, paper) < needed);
  return out;
}

QPalette dark_palette() {
  QPalette p;
  const QColor window(0x35, 0x35, 0x35), base(0x23, 0x23, 0x23), text(0xE6, 0xE6, 0xE6), disabled(0x80, 0x80, 0x80);
  p.setColor(QPalette::Window, window);
  p.setColor(QPalette::WindowText, text);
  p.setColor(QPalette::Base, base);
  p.setColor(QPalette::AlternateBase, window);
  p.setColor(QPalette::ToolTipBase, base);
  p.setColor(QPalette::ToolTipText, text);
  p.setColor(QPalette::PlaceholderText, QColor(0xA0, 0xA0, 0xA0));
  p.setColor(QPalette::Text, text);
  p.setColor(QPalette::Button, window);
  p.setColor(QPalette::ButtonText, text);
  p.setColor(QPalette::BrightText, Qt::red);
  p.setColor(QPalette::Link, QColor(0x56, 0xB4, 0xE9));
  p.setColor(QPalette::Highlight, QColor(0x2A, 0x82, 0xDA));
  p.setColor(QPalette::HighlightedText, Qt::black);
  p.setColor(QPalette::Light, QColor(0x50, 0x50, 0x50));
  p.setColor(QPalette::Midlight, QColor(0x45, 0x45, 0x45));
  p.setColor(QPalette::Mid, QColor(0x2A, 0x2A, 0x2A));
  p.setColor(QPalette::Dark, QColor(0x20, 0x20, 0x20));
  p.setColor(QPalette::Shadow, Qt::black);
  for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
    p.setColor(QPalette::Disabled, role, disabled);
  return p;
}

QColor viridis(double t) {
  static const std::array<QRgb, 9> stops = {0x440154, 0x472D7B, 0x3B528B, 0x2C728E, 0x21918C,
                                            0x28AE80, 0x5EC962, 0xADDC30, 0xFDE725};
  t = std::clamp(t, 0.0, 1.0) * (stops.size() - 1);
  const size_t i = std::min(static_cast<size_t>(t), stops.size() - 2);
  const double f = t - static_cast<double>(i);
  const QColor a(stops[i]), b(stops[i + 1]);
  return QColor::fromRgbF(static_cast<float>(a.redF() + f * (b.redF() - a.redF())),
                          static_cast<float>(a.greenF() + f * (b.greenF() - a.greenF())),
                          static_cast<float>(a.blueF() + f * (b.blueF() - a.blueF())));
}

QColor weighted_expert_color(int expert, double weight, const QColor& background) {
  const QColor c = expert_color(expert, background);
  const double w = 0.2 + 0.8 * std::clamp(weight, 0.0, 1.0);
  return QColor::fromRgbF(static_cast<float>(1 - w + w * c.redF()), static_cast<float>(1 - w + w * c.greenF()),
                          static_cast<float>(1 - w + w * c.blueF()));
}

}  // namespace moewb
