#include "palette.h"

#include <array>
#include <cmath>

namespace moewb {

QColor expert_color(int expert) {
  static const std::array<QRgb, 17> base = {
      0xE69F00, 0x56B4E9, 0x009E73, 0xF0E442, 0x0072B2, 0xD55E00, 0xCC79A7, 0x000000,             // Okabe-Ito
      0x332288, 0x88CCEE, 0x44AA99, 0x117733, 0x999933, 0xDDCC77, 0xCC6677, 0x882255, 0xAA4499};  // Tol muted
  if (expert >= 0 && expert < static_cast<int>(base.size())) return QColor(base[static_cast<size_t>(expert)]);
  return QColor::fromHsvF(std::fmod(expert * 0.618034, 1.0), 0.55 + 0.3 * (expert % 2), 0.85 - 0.2 * (expert % 3));
}

}  // namespace moewb
