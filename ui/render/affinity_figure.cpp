#include "ui/render/affinity_figure.h"

#include <QFontMetricsF>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLinearGradient>
#include <QPainter>

#include <algorithm>

#include "ui/render/palette.h"
#include "ui/render/routing_text.h"

namespace moewb {

namespace {
constexpr double kCellW = 34, kCellH = 16;  // natural cell size, logical pixels
constexpr double kLabelW = 64;
constexpr double kHeaderH = 64;  // title, subtitle, expert names
constexpr double kFooterH = 52;  // axis title and colour bar
}  // namespace

QSizeF AffinityFigure::naturalSize() const {
  return {std::max(380.0, kLabelW + std::max(4, experts()) * kCellW + 24),
          kHeaderH + std::max<size_t>(1, matrix_.characters.size()) * kCellH + kFooterH};
}

namespace {
QString row_label(const AffinityMatrix& m, int r) {
  return QString("'%1' ×%2").arg(visible_char(m.characters[static_cast<size_t>(r)])).arg(m.counts[static_cast<size_t>(r)]);
}
}  // namespace

std::optional<std::pair<int, int>> AffinityLayout::cellAt(const QPointF& p) const {
  if (cell_w <= 0 || cell_h <= 0 || p.x() < left || p.y() < top) return std::nullopt;
  const int c = static_cast<int>((p.x() - left) / cell_w), r = static_cast<int>((p.y() - top) / cell_h);
  if (r >= rows || c >= columns) return std::nullopt;
  return std::make_pair(r, c);
}

AffinityLayout AffinityFigure::layout(const QRectF& target, const FigureStyle& st, QPaintDevice* device) const {
  const QFontMetricsF title(st.font(st.title_pt, true), device), text(st.font(st.text_pt), device),
      label(st.font(st.label_pt), device);
  const double pad = st.px(4);
  AffinityLayout l;
  l.rows = static_cast<int>(matrix_.characters.size());
  l.columns = experts();
  l.label_w = text.horizontalAdvance("character");
  for (int r = 0; r < l.rows; ++r) l.label_w = std::max(l.label_w, text.horizontalAdvance(row_label(matrix_, r)));
  l.left = target.left() + pad + l.label_w + pad;
  const double header = text.height() * 1.2;
  l.top = target.top() + pad + title.height() + text.height() + pad + header;
  const double footer = pad + label.height() + pad + text.height() * 1.4 + pad;
  l.cell_w = l.columns ? (target.right() - l.left - pad) / l.columns : 0;
  l.cell_h = l.rows ? std::max(1.0, (target.bottom() - l.top - footer) / l.rows) : 0;
  return l;
}

void AffinityFigure::paint(QPainter& p, const QRectF& target, const FigureStyle& st) const {
  p.save();
  p.setRenderHint(QPainter::TextAntialiasing);
  p.fillRect(target, st.background);
  const AffinityLayout l = layout(target, st, p.device());
  const QFont title_font = st.font(st.title_pt, true), text_font = st.font(st.text_pt), label_font = st.font(st.label_pt);
  const QFontMetricsF title(title_font, p.device()), text(text_font, p.device()), label(label_font, p.device());
  const double pad = st.px(4), width = target.width() - 2 * pad;
  double y = target.top() + pad;
  p.setPen(st.foreground);
  p.setFont(title_font);
  p.drawText(QRectF(target.left() + pad, y, width, title.height()), Qt::AlignLeft | Qt::AlignVCenter,
             title.elidedText(QString("Char × expert affinity, layer %1").arg(layer_), Qt::ElideRight, width));
  y += title.height();
  p.setFont(text_font);
  p.setPen(st.muted);
  const QString sub = subtitle_.isEmpty() ? QString("share of each character's router assignments per expert")
                                          : subtitle_ + " · share of each character's assignments per expert";
  p.drawText(QRectF(target.left() + pad, y, width, text.height()), Qt::AlignLeft | Qt::AlignVCenter,
             text.elidedText(sub, Qt::ElideRight, width));
  // column names, and what the rows are
  p.setPen(st.foreground);
  p.drawText(QRectF(target.left() + pad, l.top - text.height() * 1.2, l.label_w, text.height() * 1.2),
             Qt::AlignRight | Qt::AlignVCenter, "character");
  for (int e = 0; e < l.columns; ++e)
    p.drawText(QRectF(l.left + e * l.cell_w, l.top - text.height() * 1.2, l.cell_w, text.height() * 1.2), Qt::AlignCenter,
               QString("E%1").arg(e));
  const double cell_pt = std::min(st.text_pt, l.cell_h / kPxPerPt * 0.75);
  const QFont cell_font = st.font(cell_pt);
  const QFontMetricsF cell_metrics(cell_font, p.device());
  const bool numbers = cell_pt >= 4.5 && cell_metrics.horizontalAdvance("100") < l.cell_w * 0.9;
  const QFont row_font = st.font(std::min(st.text_pt, l.cell_h / kPxPerPt * 0.85));
  for (int r = 0; r < l.rows; ++r) {
    const double top = l.top + r * l.cell_h;
    p.setFont(row_font);
    p.setPen(st.foreground);
    p.drawText(QRectF(target.left() + pad, top, l.label_w, l.cell_h), Qt::AlignRight | Qt::AlignVCenter, row_label(matrix_, r));
    p.setFont(cell_font);
    for (int e = 0; e < l.columns; ++e) {
      const double v = matrix_.share[static_cast<size_t>(r)][static_cast<size_t>(e)];
      const QRectF cell(l.left + e * l.cell_w, top, l.cell_w, l.cell_h);
      const QColor bg = viridis(v);
      p.fillRect(cell.adjusted(0, 0, -0.5, -0.5), bg);
      if (numbers) {
        p.setPen(bg.lightnessF() > 0.55 ? Qt::black : Qt::white);
        p.drawText(cell, Qt::AlignCenter, QString::number(v * 100, 'f', 0));
      }
    }
  }
  y = l.top + l.rows * l.cell_h + pad;
  // axis title and colour bar
  p.setFont(label_font);
  p.setPen(st.foreground);
  p.drawText(QRectF(l.left, y, l.columns * l.cell_w, label.height()), Qt::AlignCenter, "expert");
  y += label.height() + pad;
  p.setFont(text_font);
  const QString zero = "share 0 %", one = "100 %";
  const double x = target.left() + pad;
  p.drawText(QRectF(x, y, text.horizontalAdvance(zero) + 2, text.height()), Qt::AlignVCenter, zero);
  const double bar_x = x + text.horizontalAdvance(zero) + st.px(3);
  const double bar_w = std::min(st.px(100), std::max(st.px(20), target.right() - bar_x - text.horizontalAdvance(one) - 3 * pad));
  QLinearGradient g(bar_x, 0, bar_x + bar_w, 0);
  for (int i = 0; i <= 8; ++i) g.setColorAt(i / 8.0, viridis(i / 8.0));
  p.fillRect(QRectF(bar_x, y + text.height() * 0.2, bar_w, text.height() * 0.6), g);
  p.drawText(QRectF(bar_x + bar_w + st.px(3), y, text.horizontalAdvance(one) + 2, text.height()), Qt::AlignVCenter, one);
  p.restore();
}

QString AffinityFigure::csv() const {
  QString out = QString("# layer %1: for each character of the traced text (by descending frequency), the share of "
                        "its router assignments going to each expert; rows sum to 1\ncharacter,count")
                    .arg(layer_);
  for (int e = 0; e < experts(); ++e) out += QString(",E%1").arg(e);
  out += "\n";
  for (size_t r = 0; r < matrix_.characters.size(); ++r) {
    out += csv_cell(visible_char(matrix_.characters[r])) + QString(",%1").arg(matrix_.counts[r]);
    for (double v : matrix_.share[r]) out += QString(",%1").arg(v, 0, 'g', 9);
    out += "\n";
  }
  return out;
}

QString AffinityFigure::json() const {
  QJsonArray rows;
  for (size_t r = 0; r < matrix_.characters.size(); ++r) {
    QJsonArray shares;
    for (double v : matrix_.share[r]) shares.append(v);
    rows.append(QJsonObject{{"character", QString::fromUcs4(&matrix_.characters[r], 1)},
                            {"count", matrix_.counts[r]}, {"share", shares}});
  }
  return QString::fromUtf8(QJsonDocument(QJsonObject{{"layer", layer_},
                                                     {"convention", "share of each character's assignments per expert"},
                                                     {"rows", rows}})
                               .toJson());
}

}  // namespace moewb
