#include "ui/render/loss_change_figure.h"

#include <QFontMetricsF>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLinearGradient>
#include <QPainter>

#include <algorithm>
#include <cmath>

#include "ui/render/routing_text.h"

namespace moewb {

namespace {
constexpr double kPageWidthCm = 17;  // an A4 text column, as the routing heatmap's export
constexpr double kCmPerInch = 2.54;
const QColor kWorse{0xD5, 0x5E, 0x00};  // Okabe-Ito vermillion and blue: colour-blind safe
const QColor kBetter{0x00, 0x72, 0xB2};

QString number(double v) { return std::isfinite(v) ? QString::number(v, 'f', 6) : QString(); }
}  // namespace

double loss_change_scale(const std::vector<double>& before, const std::vector<double>& after) {
  std::vector<double> magnitudes;
  for (size_t i = 0; i < std::min(before.size(), after.size()); ++i)
    if (std::isfinite(after[i] - before[i])) magnitudes.push_back(std::abs(after[i] - before[i]));
  if (magnitudes.empty()) return 1;
  const size_t at = std::min(magnitudes.size() - 1, magnitudes.size() * 95 / 100);
  std::nth_element(magnitudes.begin(), magnitudes.begin() + static_cast<std::ptrdiff_t>(at), magnitudes.end());
  return std::max(1e-3, magnitudes[at]);
}

QColor loss_change_color(double delta, double scale, const QColor& background) {
  if (!std::isfinite(delta)) return background;
  const double t = std::clamp(std::abs(delta) / scale, 0.0, 1.0);
  const QColor end = delta > 0 ? kWorse : kBetter;
  return QColor::fromRgbF(1 + (end.redF() - 1) * t, 1 + (end.greenF() - 1) * t, 1 + (end.blueF() - 1) * t);
}

LossChangeFigure::LossChangeFigure(LossChange data)
    : data_(std::move(data)), scale_(loss_change_scale(data_.before, data_.after)) {}

LossChangeFigure::Layout LossChangeFigure::layout(double width, const FigureStyle& st, QPaintDevice* device) const {
  if (!device) device = layout_device();
  Layout l;
  const QFontMetricsF title(st.font(st.title_pt, true), device), text(st.font(st.text_pt), device);
  const QFontMetricsF mono(st.mono(st.char_pt), device);
  l.header = st.px(4) + title.height() + (data_.subtitle.isEmpty() ? 0 : text.height()) + st.px(6);
  l.cell_w = mono.horizontalAdvance(QChar('M')) * 1.25;
  l.line_h = mono.height() * 1.45;
  const int per_line = std::max(1, static_cast<int>((width - st.px(4)) / l.cell_w));
  int line = 0, column = 0;
  for (char32_t c : data_.text) {
    if (column >= per_line) ++line, column = 0;
    l.line.push_back(line);
    l.column.push_back(column++);
    if (c == U'\n') ++line, column = 0;
  }
  l.lines = data_.text.empty() ? 0 : l.line.back() + 1;
  l.legend = st.px(8) + text.height() * 2.2;
  return l;
}

double LossChangeFigure::heightForWidth(double width, const FigureStyle& style) const {
  const Layout l = layout(width, style, nullptr);
  return std::ceil(l.header + l.lines * l.line_h + l.legend);
}

QSizeF LossChangeFigure::naturalSize() const {
  const double width = kPageWidthCm / kCmPerInch * 96;
  return {width, heightForWidth(width, FigureStyle::screen())};
}

void LossChangeFigure::paint(QPainter& p, const QRectF& target, const FigureStyle& st) const {
  p.save();
  p.fillRect(target, st.background);
  p.translate(target.topLeft());
  const Layout l = layout(target.width(), st, p.device());
  const QFont title_font = st.font(st.title_pt, true), text_font = st.font(st.text_pt), mono = st.mono(st.char_pt);
  const QFontMetricsF title(title_font, p.device()), text(text_font, p.device());
  const double inner = target.width() - st.px(4);
  double y = st.px(4);
  p.setRenderHint(QPainter::TextAntialiasing);
  p.setPen(st.foreground);
  p.setFont(title_font);
  p.drawText(QRectF(st.px(2), y, inner, title.height()), Qt::AlignLeft | Qt::AlignVCenter,
             title.elidedText(data_.title, Qt::ElideRight, inner));
  y += title.height();
  if (!data_.subtitle.isEmpty()) {
    p.setFont(text_font);
    p.setPen(st.muted);
    p.drawText(QRectF(st.px(2), y, inner, text.height()), Qt::AlignLeft | Qt::AlignVCenter,
               text.elidedText(data_.subtitle, Qt::ElideRight, inner));
  }
  p.setFont(mono);
  for (size_t i = 0; i < data_.text.size(); ++i) {
    const QRectF cell(st.px(2) + l.column[i] * l.cell_w, l.header + l.line[i] * l.line_h, l.cell_w, l.line_h);
    const double delta = i < std::min(data_.before.size(), data_.after.size()) ? data_.after[i] - data_.before[i] : NAN;
    const QColor fill = loss_change_color(delta, scale_, st.background);
    p.fillRect(cell, fill);
    // characters stay dark on the pale end of the scale and turn white where the colour is saturated
    p.setPen(std::isfinite(delta) && std::abs(delta) > 0.6 * scale_ ? QColor(Qt::white)
             : std::isfinite(delta)                                  ? QColor(0x20, 0x20, 0x20)
                                                                     : st.foreground);
    p.drawText(cell, Qt::AlignCenter, visible_char(data_.text[i]));
  }
  // colour bar: better (blue) .. 0 .. worse (vermillion), with the saturation scale in nats
  const double bar_top = l.header + l.lines * l.line_h + st.px(8);
  const double bar_w = std::min(inner * 0.5, st.px(160)), bar_h = text.height() * 0.8;
  QLinearGradient gradient(st.px(2), 0, st.px(2) + bar_w, 0);
  gradient.setColorAt(0, loss_change_color(-scale_, scale_));
  gradient.setColorAt(0.5, Qt::white);
  gradient.setColorAt(1, loss_change_color(scale_, scale_));
  const QRectF bar(st.px(2), bar_top, bar_w, bar_h);
  p.fillRect(bar, gradient);
  p.setPen(QPen(st.muted, st.px(st.axis_pt)));
  p.drawRect(bar);
  p.setFont(text_font);
  const double label_top = bar_top + bar_h;
  p.drawText(QRectF(bar.left(), label_top, bar_w, text.height()), Qt::AlignLeft | Qt::AlignTop,
             QString("−%1").arg(scale_, 0, 'g', 3));
  p.drawText(QRectF(bar.left(), label_top, bar_w, text.height()), Qt::AlignHCenter | Qt::AlignTop, "0");
  p.drawText(QRectF(bar.left(), label_top, bar_w, text.height()), Qt::AlignRight | Qt::AlignTop,
             QString("+%1").arg(scale_, 0, 'g', 3));
  p.setPen(st.foreground);
  p.drawText(QRectF(bar.right() + st.px(6), bar_top - text.height() * 0.1, inner - bar_w - st.px(6), text.height() * 2),
             Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap,
             "loss change (nats) under the intervention: blue = better, vermillion = worse; the colour saturates at "
             "the 95th percentile of |change|");
  p.restore();
}

QString LossChangeFigure::csv() const {
  QString out = "# per-character cross-entropy (nats) of predicting the character from the text before it, as trained "
                "and under: " +
                data_.intervention + "\nposition,character,loss,loss_after,delta\n";
  for (size_t i = 0; i < data_.text.size(); ++i) {
    const double before = i < data_.before.size() ? data_.before[i] : NAN;
    const double after = i < data_.after.size() ? data_.after[i] : NAN;
    out += QString("%1,%2,%3,%4,%5\n")
               .arg(i)
               .arg(csv_cell(QString::fromUcs4(&data_.text[i], 1)), number(before), number(after),
                    number(after - before));
  }
  return out;
}

QString LossChangeFigure::json() const {
  QJsonArray characters;
  for (size_t i = 0; i < data_.text.size(); ++i) {
    const double before = i < data_.before.size() ? data_.before[i] : NAN;
    const double after = i < data_.after.size() ? data_.after[i] : NAN;
    QJsonObject c{{"position", static_cast<int>(i)}, {"character", QString::fromUcs4(&data_.text[i], 1)}};
    if (std::isfinite(before)) c["loss"] = before;
    if (std::isfinite(after)) c["loss_after"] = after;
    if (std::isfinite(after - before)) c["delta"] = after - before;
    characters.append(c);
  }
  const QJsonObject root{{"figure", "loss_change"},
                         {"title", data_.title},
                         {"intervention", data_.intervention},
                         {"units", "nats; delta = loss_after - loss; loss is absent where nothing predicts the character"},
                         {"colour_scale", scale_},
                         {"characters", characters}};
  return QString::fromUtf8(QJsonDocument(root).toJson(QJsonDocument::Indented));
}

}  // namespace moewb
