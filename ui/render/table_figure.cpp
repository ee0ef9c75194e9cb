#include "ui/render/table_figure.h"

#include <QFontMetricsF>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPainter>
#include <QRegularExpression>

#include <algorithm>
#include <numeric>

namespace moewb {

namespace {

constexpr double kCellPadPt = 4;

bool numeric(const std::string& cell) {
  static const QRegularExpression number(R"(^[-+−]?[0-9][0-9.,]*\s*(\(.*\))?\s*%?$)");
  return number.match(QString::fromStdString(cell)).hasMatch();
}

// Text size that makes the natural column widths fit the width (never above the style's size).
double fitting_pt(const Table& t, double width, const FigureStyle& st, QPaintDevice* device) {
  const QFontMetricsF m(st.font(st.text_pt, true), device);
  std::vector<double> widths(t.header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c)
      widths[c] = std::max(widths[c], m.horizontalAdvance(QString::fromStdString(row[c])) + 2 * st.px(kCellPadPt));
  };
  measure(t.header);
  for (const auto& row : t.rows) measure(row);
  const double natural = std::accumulate(widths.begin(), widths.end(), 0.0);
  return natural <= width || natural <= 0 ? st.text_pt : std::max(3.0, st.text_pt * width / natural);
}

}  // namespace

QSizeF TableFigure::naturalSize() const {
  const double width = 17 / 2.54 * 96;
  return {width, heightForWidth(width, FigureStyle::screen())};
}

double TableFigure::heightForWidth(double width, const FigureStyle& st) const {
  const double pt = fitting_pt(table_, width - 2 * st.px(4), st, layout_device());
  const QFontMetricsF title(st.font(st.title_pt, true), layout_device()), text(st.font(pt), layout_device());
  return std::ceil(st.px(4) + title.height() + st.px(4) + (table_.rows.size() + 1) * text.height() * 1.5 + st.px(4));
}

void TableFigure::paint(QPainter& p, const QRectF& target, const FigureStyle& st) const {
  p.save();
  p.setRenderHint(QPainter::TextAntialiasing);
  p.fillRect(target, st.background);
  p.translate(target.topLeft());
  const double pad = st.px(4), width = target.width() - 2 * pad;
  const QFont title_font = st.font(st.title_pt, true);
  const QFontMetricsF title(title_font, p.device());
  p.setFont(title_font);
  p.setPen(st.foreground);
  p.drawText(QRectF(pad, pad, width, title.height()), Qt::AlignLeft | Qt::AlignVCenter,
             title.elidedText(title_, Qt::ElideRight, width));
  const double pt = fitting_pt(table_, width, st, p.device());
  const QFont body = st.font(pt), bold = st.font(pt, true);
  const QFontMetricsF m(bold, p.device());
  const double row_h = m.height() * 1.5, cell_pad = st.px(kCellPadPt) * pt / st.text_pt;
  // columns as wide as their widest cell, the spare width shared out evenly
  std::vector<double> widths(table_.header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c)
      widths[c] = std::max(widths[c], m.horizontalAdvance(QString::fromStdString(row[c])) + 2 * cell_pad);
  };
  measure(table_.header);
  for (const auto& row : table_.rows) measure(row);
  const double spare = std::max(0.0, width - std::accumulate(widths.begin(), widths.end(), 0.0));
  for (auto& w : widths) w += widths.empty() ? 0 : spare / widths.size();
  double y = pad + title.height() + pad;
  auto draw_row = [&](const std::vector<std::string>& row, bool header) {
    double x = pad;
    p.setFont(header ? bold : body);
    p.setPen(st.foreground);
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      const bool right = !header && c > 0 && numeric(row[c]);
      p.drawText(QRectF(x + cell_pad, y, widths[c] - 2 * cell_pad, row_h),
                 Qt::AlignVCenter | (right || (header && c > 0) ? Qt::AlignRight : Qt::AlignLeft),
                 QString::fromStdString(row[c]));
      x += widths[c];
    }
    y += row_h;
  };
  draw_row(table_.header, true);
  p.setPen(QPen(st.foreground, st.px(st.axis_pt)));
  p.drawLine(QPointF(pad, y), QPointF(pad + width, y));
  for (size_t r = 0; r < table_.rows.size(); ++r) {
    if (r % 2 == 1) p.fillRect(QRectF(pad, y, width, row_h), st.grid_color);
    draw_row(table_.rows[r], false);
  }
  p.setPen(QPen(st.foreground, st.px(st.axis_pt)));
  p.drawLine(QPointF(pad, y), QPointF(pad + width, y));
  p.restore();
}

QString TableFigure::csv() const { return QString::fromStdString(table_.to_csv()); }

QString TableFigure::json() const {
  QJsonArray rows;
  for (const auto& row : table_.rows) {
    QJsonObject o;
    for (size_t c = 0; c < row.size() && c < table_.header.size(); ++c)
      o[QString::fromStdString(table_.header[c])] = QString::fromStdString(row[c]);
    rows.append(o);
  }
  return QString::fromUtf8(QJsonDocument(QJsonObject{{"table", title_}, {"rows", rows}}).toJson());
}

}  // namespace moewb
