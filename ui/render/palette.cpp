#include "palette.h"

#include <array>
#include <algorithm>
#include <cmath>

namespace moewb {

QColor expert_color(int expert) {
  static const std::array<QRgb, 17> base = {
      0xE69F00, 0x56B4E9, 0x009E73, 0xF0E442, 0x0072B2, 0xD55E00, 0xCC79A7, 0x000000,             // Okabe-Ito
      0x332288, 0x88CCEE, 0x44AA99, 0x117733, 0x999933, 0xDDCC77, 0xCC6677, 0x882255, 0xAA4499};  // Tol muted
  if (expert >= 0 && expert < static_cast<int>(base.size())) return QColor(base[static_cast<size_t>(expert)]);
  return QColor::fromHsvF(std::fmod(expert * 0.618034, 1.0), 0.55 + 0.3 * (expert % 2), 0.85 - 0.2 * (expert % 3));
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

QColor weighted_expert_color(int expert, double weight) {
  const QColor c = expert_color(expert);
  const double w = 0.2 + 0.8 * std::clamp(weight, 0.0, 1.0);
  return QColor::fromRgbF(static_cast<float>(1 - w + w * c.redF()), static_cast<float>(1 - w + w * c.greenF()),
                          static_cast<float>(1 - w + w * c.blueF()));
}

}  // namespace moewb
