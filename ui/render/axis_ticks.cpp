#include "ui/render/axis_ticks.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace moewb {

namespace {

constexpr int kMinTicks = 4, kMaxTicks = 8;

QString superscript(int n) {
  static const QString digits[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  QString out = n < 0 ? "⁻" : "";
  for (QChar c : QString::number(std::abs(n))) out += digits[c.digitValue()];
  return out;
}

// Labels for ticks `step` apart: as many decimals as the step has, scaled by 10^e when the values are tiny
// or huge, so "1, 1, 0"-style duplicates cannot happen.
void label(AxisTicks& t, double step) {
  double largest = 0;
  for (double v : t.values) largest = std::max(largest, std::abs(v));
  int exponent = 0;
  if (largest > 0 && (largest < 1e-2 || largest >= 1e5)) exponent = static_cast<int>(std::floor(std::log10(largest)));
  if (exponent >= 5) exponent = exponent / 3 * 3;  // thousands, millions: ×10³, ×10⁶
  const double scale = std::pow(10.0, -exponent);
  const double scaled_step = step * scale;
  int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(scaled_step) + 1e-9)));
  // 2.5, 0.25, ...: one more decimal than the power of ten (25, 250 need none)
  const double power = std::floor(std::log10(scaled_step) + 1e-9);
  const double mantissa = scaled_step / std::pow(10.0, power);
  if (std::abs(mantissa - 2.5) < 1e-6 && power <= 0) ++decimals;
  t.labels.clear();
  // thousands with a step of 1000 or more read as 1k, 2.5k, 10k: short enough for a narrow axis
  const bool thousands = exponent == 0 && step >= 1000 && largest >= 1000;
  for (double v : t.values) {
    double shown = v * scale;
    if (std::abs(shown) < scaled_step * 1e-6) shown = 0;  // no "-0"
    if (thousands) {
      QString k = QString::number(shown / 1000, 'f', std::abs(std::fmod(step, 1000.0)) > 1e-9 ? 1 : 0);
      t.labels.push_back(shown == 0 ? QString("0") : k + "k");
    } else {
      t.labels.push_back(QString::number(shown, 'f', std::min(decimals, 12)));
    }
  }
  t.multiplier = exponent ? "×10" + superscript(exponent) : QString();
}

std::vector<double> multiples(double lo, double hi, double step) {
  std::vector<double> v;
  const double first = std::ceil(lo / step - 1e-9), last = std::floor(hi / step + 1e-9);
  for (double i = first; i <= last && v.size() < 1000; ++i) v.push_back(i * step);
  return v;
}

// Penalty of a tick count: 0 inside [4, 8], growing outside; then distance to the target.
double badness(size_t count, int target, int max_ticks, bool preferred) {
  const double n = static_cast<double>(count);
  const int least = std::min(kMinTicks, max_ticks);
  double bad = 0;
  if (n < least) bad += 100 * (least - n);
  if (n > max_ticks) bad += 100 * (n - max_ticks);
  return bad + std::abs(n - target) + (preferred ? 0 : 0.3);
}

}  // namespace

int tick_target(double length, double spacing) {
  if (spacing <= 0) return kMinTicks;
  return std::clamp(static_cast<int>(std::lround(length / spacing)), kMinTicks, kMaxTicks);
}

AxisTicks linear_ticks(double lo, double hi, int target, int max_ticks) {
  max_ticks = std::clamp(max_ticks, 2, kMaxTicks);
  target = std::min(target, max_ticks);
  AxisTicks t;
  if (!std::isfinite(lo) || !std::isfinite(hi)) return t;
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < std::max(std::abs(hi), 1.0) * 1e-12) {
    t.values = {lo};
    label(t, std::max(std::abs(lo) * 0.1, 1e-12));
    return t;
  }
  const int magnitude = static_cast<int>(std::floor(std::log10(hi - lo)));
  double best_step = 0, best_bad = std::numeric_limits<double>::max();
  for (int e = magnitude - 3; e <= magnitude + 1; ++e)
    for (double m : {1.0, 2.0, 2.5, 5.0}) {
      const double step = m * std::pow(10.0, e);
      const auto v = multiples(lo, hi, step);
      const double bad = badness(v.size(), target, max_ticks, m != 2.5);
      if (bad < best_bad) best_bad = bad, best_step = step;
    }
  t.values = multiples(lo, hi, best_step);
  label(t, best_step);
  return t;
}

AxisTicks log_ticks(double lo, double hi, int target) {
  AxisTicks t;
  if (!(lo > 0) || !(hi > lo) || !std::isfinite(hi)) return linear_ticks(lo, hi, target);
  const int d0 = static_cast<int>(std::ceil(std::log10(lo) - 1e-9)), d1 = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
  if (d1 - d0 + 1 >= kMinTicks) {
    const int every = (d1 - d0) / kMaxTicks + 1;
    for (int d = d0; d <= d1; d += every) t.values.push_back(std::pow(10.0, d));
    for (double v : t.values) {
      const int e = static_cast<int>(std::lround(std::log10(v)));
      t.labels.push_back(e >= 0 && e <= 4 ? QString::number(v, 'f', 0) : "10" + superscript(e));
    }
    return t;
  }
  std::vector<double> v125;
  for (int d = d0 - 1; d <= d1; ++d)
    for (double m : {1.0, 2.0, 5.0}) {
      const double x = m * std::pow(10.0, d);
      if (x >= lo * (1 - 1e-9) && x <= hi * (1 + 1e-9)) v125.push_back(x);
    }
  if (v125.size() >= static_cast<size_t>(kMinTicks) && v125.size() <= static_cast<size_t>(kMaxTicks)) {
    t.values = v125;
    // the smallest tick decides the decimals: 0.02, 0.05, 0.1, 0.2
    label(t, t.values.front() / 2);
    for (size_t i = 0; i < t.values.size(); ++i) {
      const double x = t.values[i];
      t.labels[i] = QString::number(x, 'g', 3);
    }
    t.multiplier.clear();
    return t;
  }
  return linear_ticks(lo, hi, target);
}

}  // namespace moewb
