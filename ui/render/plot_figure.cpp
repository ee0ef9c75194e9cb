#include "plot_figure.h"

#include <QFontMetricsF>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPainter>
#include <QPainterPath>

#include <cmath>
#include <limits>

#include "palette.h"

namespace moewb {

namespace {

constexpr double kXTickSpacing = 110;  // logical pixels between x ticks to aim at
constexpr double kYTickSpacing = 48;
constexpr int kMaxLegendEntries = 20;  // more series (experts) get a one-line legend

struct Range {
  double x0 = std::numeric_limits<double>::max(), x1 = std::numeric_limits<double>::lowest();
  double y0 = x0, y1 = x1;
  bool empty() const { return x0 > x1; }
};

bool shown(const PlotSpec& s, const QPointF& p) {
  return std::isfinite(p.x()) && std::isfinite(p.y()) && !(s.log_y && p.y() <= 0);
}

// The points' range; with a view x range, the y range of the points inside it.
Range data_range(const PlotSpec& s) {
  Range r;
  for (const auto& series : s.series)
    for (const auto& p : series.points) {
      if (!shown(s, p)) continue;
      if (s.x_range && (p.x() < s.x_range->first || p.x() > s.x_range->second)) continue;
      r.x0 = std::min(r.x0, p.x()), r.x1 = std::max(r.x1, p.x());
      r.y0 = std::min(r.y0, p.y()), r.y1 = std::max(r.y1, p.y());
    }
  return r;
}

QString with_multiplier(const QString& title, const QString& multiplier) {
  return multiplier.isEmpty() ? title : QString("%1 (%2)").arg(title, multiplier);
}

double widest(const QFontMetricsF& m, const std::vector<QString>& labels) {
  double w = 0;
  for (const auto& l : labels) w = std::max(w, m.horizontalAdvance(l));
  return w;
}

struct LegendItem {
  QString text;
  QColor color;
};

// A name wider than the legend (a long run name) continues on the next rows as swatch-less entries, so it is
// never cut at the figure's edge. Breaks after a space, '-', '_' or '/' where one fits, else anywhere.
void add_wrapped(std::vector<LegendItem>& items, LegendItem item, const QFontMetricsF& m, double width, double swatch) {
  const double room = std::max(width - swatch * 2.6, m.horizontalAdvance("MMMM"));
  while (m.horizontalAdvance(item.text) > room) {
    int fit = 1;
    while (fit < item.text.size() && m.horizontalAdvance(item.text.left(fit + 1)) <= room) ++fit;
    int cut = fit;
    while (cut > fit / 2 && !QString(" -_/").contains(item.text[cut - 1])) --cut;
    if (cut <= fit / 2) cut = fit;
    items.push_back({item.text.left(cut), item.color});
    item = {item.text.mid(cut), QColor()};
  }
  items.push_back(item);
}

std::vector<LegendItem> legend_items(const PlotSpec& s, const QFontMetricsF& m, double width, double swatch) {
  std::vector<LegendItem> items;
  if (!s.legend || s.series.size() < 2) return items;
  if (s.series.size() > kMaxLegendEntries) {
    items.push_back({QString("%1 series: %2 … %3, one colour each").arg(s.series.size()).arg(s.series.front().name,
                                                                                            s.series.back().name),
                     QColor()});
    return items;
  }
  for (const auto& series : s.series) add_wrapped(items, {series.name, series.color}, m, width, swatch);
  return items;
}

// Legend rows: entries wrapped to the width. Returns the rows' item ranges.
std::vector<std::pair<size_t, size_t>> legend_rows(const std::vector<LegendItem>& items, const QFontMetricsF& m,
                                                   double width, double swatch) {
  std::vector<std::pair<size_t, size_t>> rows;
  double x = 0;
  size_t start = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const double w = swatch * 1.6 + m.horizontalAdvance(items[i].text) + swatch;
    if (x > 0 && x + w > width) {
      rows.push_back({start, i});
      start = i, x = 0;
    }
    x += w;
  }
  if (start < items.size()) rows.push_back({start, items.size()});
  return rows;
}

}  // namespace

const PlotSeries* PlotSpec::find(const QString& series_name) const {
  for (const auto& s : series)
    if (s.name == series_name) return &s;
  return nullptr;
}

QPointF PlotLayout::map(QPointF d) const {
  const double fx = (d.x() - x0) / (x1 - x0);
  const double fy = log_y ? (std::log(d.y()) - std::log(y0)) / (std::log(y1) - std::log(y0)) : (d.y() - y0) / (y1 - y0);
  return {plot.left() + fx * plot.width(), plot.bottom() - fy * plot.height()};
}

PlotLayout PlotFigure::layout(QPainter& p, const QRectF& target, const FigureStyle& st) const {
  return layout(p.device(), target, st);
}

PlotLayout PlotFigure::layout(const QPaintDevice* device, const QRectF& target, const FigureStyle& st) const {
  const QFontMetricsF text(st.font(st.text_pt), device), label(st.font(st.label_pt), device),
      title(st.font(st.title_pt, true), device);
  const double pad = st.px(5), tick = st.px(3);
  PlotLayout l;
  l.log_y = spec_.log_y;
  const Range r = data_range(spec_);
  if (r.empty()) {
    l.x0 = 0, l.x1 = 100, l.y0 = spec_.log_y ? 0.1 : 0, l.y1 = 1;
  } else {
    l.x0 = r.x0, l.x1 = r.x1 > r.x0 ? r.x1 : r.x0 + 1;
    if (l.x0 > 0 && l.x0 < 0.1 * (l.x1 - l.x0)) l.x0 = 0;  // a step axis starts at 0, not at the first log step
    if (spec_.log_y) {
      l.y0 = r.y0 / 1.1, l.y1 = r.y1 * 1.1;
    } else {
      const double span = r.y1 - r.y0;
      const double margin = span > 0 ? span * 0.05 : std::max(std::abs(r.y0) * 0.05, 1e-3);
      l.y0 = r.y0 - margin, l.y1 = r.y1 + margin;
    }
  }
  if (spec_.y_range && !spec_.log_y) l.y0 = spec_.y_range->first, l.y1 = spec_.y_range->second;
  if (spec_.x_range && spec_.x_range->second > spec_.x_range->first)
    l.x0 = spec_.x_range->first, l.x1 = spec_.x_range->second;

  double top = target.top() + pad;
  if (!spec_.title.isEmpty()) top += title.height();
  if (!spec_.subtitle.isEmpty()) top += text.height();
  top += pad;
  const double swatch = text.height() * 0.6;
  const auto items = legend_items(spec_, text, target.width() - 2 * pad, swatch);
  const double legend_h = legend_rows(items, text, target.width() - 2 * pad, swatch).size() * text.height() * 1.15;
  const double bottom = target.bottom() - pad - legend_h - (legend_h > 0 ? pad : 0) - label.height() - text.height() - tick;
  const double height = std::max(10.0, bottom - top - text.height() / 2);

  // y ticks first (they decide the left margin); fewer when their labels would touch
  const int y_target = tick_target(height, kYTickSpacing);
  l.y_ticks = spec_.log_y ? log_ticks(l.y0, l.y1, y_target) : linear_ticks(l.y0, l.y1, y_target);
  for (int most = static_cast<int>(l.y_ticks.values.size()) - 1;
       !spec_.log_y && most >= 2 && l.y_ticks.values.size() * text.height() * 1.05 > height; --most)
    l.y_ticks = linear_ticks(l.y0, l.y1, y_target, most);
  const double left = target.left() + pad + label.height() + pad + widest(text, l.y_ticks.labels) + tick + st.px(2);
  const double right = target.right() - pad - st.px(8);  // room for the last x label's half
  l.plot = QRectF(QPointF(left, top + text.height() / 2), QPointF(std::max(left + 10, right), std::max(top + 10, bottom)));
  const int x_target = tick_target(l.plot.width(), kXTickSpacing);
  l.x_ticks = linear_ticks(l.x0, l.x1, x_target);
  for (int most = static_cast<int>(l.x_ticks.values.size()) - 1;
       most >= 2 && l.x_ticks.values.size() * (widest(text, l.x_ticks.labels) + st.px(4)) > l.plot.width(); --most)
    l.x_ticks = linear_ticks(l.x0, l.x1, x_target, most);
  return l;
}

void PlotFigure::paint(QPainter& p, const QRectF& target, const FigureStyle& st) const {
  p.save();
  p.setRenderHint(QPainter::Antialiasing);
  p.setRenderHint(QPainter::TextAntialiasing);
  p.fillRect(target, st.background);
  const PlotLayout l = layout(p, target, st);
  const QFont text_font = st.font(st.text_pt), label_font = st.font(st.label_pt), title_font = st.font(st.title_pt, true);
  const QFontMetricsF text(text_font, p.device()), label(label_font, p.device()), title(title_font, p.device());
  const double pad = st.px(5), tick = st.px(3);

  // titles
  double y = target.top() + pad;
  p.setPen(st.foreground);
  if (!spec_.title.isEmpty()) {
    p.setFont(title_font);
    p.drawText(QRectF(target.left() + pad, y, target.width() - 2 * pad, title.height()), Qt::AlignLeft | Qt::AlignVCenter,
               title.elidedText(spec_.title, Qt::ElideRight, target.width() - 2 * pad));
    y += title.height();
  }
  if (!spec_.subtitle.isEmpty()) {
    p.setFont(text_font);
    p.setPen(st.muted);
    p.drawText(QRectF(target.left() + pad, y, target.width() - 2 * pad, text.height()), Qt::AlignLeft | Qt::AlignVCenter,
               text.elidedText(spec_.subtitle, Qt::ElideRight, target.width() - 2 * pad));
  }

  // grid and ticks
  const QPen axis_pen(st.foreground, st.px(st.axis_pt) * 0.75);
  const QPen grid_pen(st.grid_color, st.px(st.axis_pt) * 0.75);
  p.setFont(text_font);
  for (size_t i = 0; i < l.y_ticks.values.size(); ++i) {
    const double v = l.y_ticks.values[i];
    const double py = l.map({l.x0, v}).y();
    if (st.grid) {
      p.setPen(grid_pen);
      p.drawLine(QPointF(l.plot.left(), py), QPointF(l.plot.right(), py));
    }
    p.setPen(axis_pen);
    p.drawLine(QPointF(l.plot.left() - tick, py), QPointF(l.plot.left(), py));
    p.setPen(st.foreground);
    p.drawText(QRectF(target.left(), py - text.height() / 2, l.plot.left() - tick - st.px(2) - target.left(), text.height()),
               Qt::AlignRight | Qt::AlignVCenter, l.y_ticks.labels[i]);
  }
  for (size_t i = 0; i < l.x_ticks.values.size(); ++i) {
    const double px = l.map({l.x_ticks.values[i], l.log_y ? l.y0 : 0}).x();
    if (st.grid) {
      p.setPen(grid_pen);
      p.drawLine(QPointF(px, l.plot.top()), QPointF(px, l.plot.bottom()));
    }
    p.setPen(axis_pen);
    p.drawLine(QPointF(px, l.plot.bottom()), QPointF(px, l.plot.bottom() + tick));
    p.setPen(st.foreground);
    const double w = text.horizontalAdvance(l.x_ticks.labels[i]) + st.px(2);
    p.drawText(QRectF(px - w / 2, l.plot.bottom() + tick, w, text.height()), Qt::AlignCenter, l.x_ticks.labels[i]);
  }

  // series, clipped to the data area; a non-finite point breaks the line
  p.save();
  p.setClipRect(l.plot.adjusted(-1, -1, 1, 1));
  bool any = false;
  for (const auto& s : spec_.series) {
    QPainterPath path;
    bool open = false;
    QList<QPointF> marks;
    for (const auto& d : s.points) {
      if (!std::isfinite(d.x()) || !std::isfinite(d.y()) || (l.log_y && d.y() <= 0)) {
        open = false;
        continue;
      }
      const QPointF q = l.map(d);
      if (open) path.lineTo(q);
      else path.moveTo(q);
      open = true;
      marks << q;
    }
    any = any || !marks.isEmpty();
    const QColor color = readable_on(s.color, st.background);
    QPen pen(color, st.px(st.line_pt) * s.weight * 0.75);
    pen.setJoinStyle(Qt::RoundJoin);
    p.setPen(pen);
    p.setBrush(Qt::NoBrush);
    p.drawPath(path);
    if (s.markers) {
      p.setBrush(color);
      p.setPen(Qt::NoPen);
      const double radius = st.px(st.line_pt) * 1.3;
      for (const auto& q : marks) p.drawEllipse(q, radius, radius);
    }
  }
  p.restore();
  if (!any) {
    p.setPen(st.muted);
    p.drawText(l.plot, Qt::AlignCenter, spec_.empty_message);
  }

  // axes and their titles
  p.setPen(axis_pen);
  p.drawLine(l.plot.bottomLeft(), l.plot.bottomRight());
  p.drawLine(l.plot.bottomLeft(), l.plot.topLeft());
  p.setFont(label_font);
  p.setPen(st.foreground);
  const double x_title_top = l.plot.bottom() + tick + text.height();
  p.drawText(QRectF(l.plot.left(), x_title_top, l.plot.width(), label.height()), Qt::AlignCenter,
             with_multiplier(spec_.x_title, l.x_ticks.multiplier));
  p.save();
  p.translate(target.left() + pad, l.plot.center().y());
  p.rotate(-90);
  p.drawText(QRectF(-l.plot.height() / 2, 0, l.plot.height(), label.height()), Qt::AlignCenter,
             label.elidedText(with_multiplier(spec_.y_title, l.y_ticks.multiplier), Qt::ElideRight, l.plot.height()));
  p.restore();

  // legend under the x axis title
  const double swatch = text.height() * 0.6;
  const auto items = legend_items(spec_, text, target.width() - 2 * pad, swatch);
  double row_y = x_title_top + label.height() + pad;
  p.setFont(text_font);
  for (const auto& [first, last] : legend_rows(items, text, target.width() - 2 * pad, swatch)) {
    double x = target.left() + pad;
    for (size_t i = first; i < last; ++i) {
      if (items[i].color.isValid()) {
        p.fillRect(QRectF(x, row_y + (text.height() - swatch) / 2, swatch * 1.2, swatch),
                   readable_on(items[i].color, st.background));
        x += swatch * 1.6;
      }
      p.setPen(st.foreground);
      const double w = text.horizontalAdvance(items[i].text);
      p.drawText(QRectF(x, row_y, w + 1, text.height()), Qt::AlignLeft | Qt::AlignVCenter, items[i].text);
      x += w + swatch;
    }
    row_y += text.height() * 1.15;
  }
  p.restore();
}

std::optional<PlotReadout> PlotFigure::readout(const PlotLayout& l, double x) const {
  auto in_view = [&](const QPointF& p) { return shown(spec_, p) && p.x() >= l.x0 && p.x() <= l.x1; };
  std::optional<double> nearest;
  for (const auto& s : spec_.series)
    for (const auto& p : s.points)
      if (in_view(p) && (!nearest || std::abs(p.x() - x) < std::abs(*nearest - x))) nearest = p.x();
  if (!nearest) return std::nullopt;
  PlotReadout r;
  r.x = *nearest;
  for (const auto& s : spec_.series) {
    const QPointF* best = nullptr;
    for (const auto& p : s.points)
      if (shown(spec_, p) && (!best || std::abs(p.x() - r.x) < std::abs(best->x() - r.x))) best = &p;
    if (best) r.values << PlotReadoutValue{s.name, s.color, *best};
  }
  return r;
}

QString PlotFigure::csv() const {
  QString out = QString("# figure: %1%2\n# x: %3\n# y: %4\nseries,x,y\n")
                    .arg(spec_.title, spec_.subtitle.isEmpty() ? QString() : " — " + spec_.subtitle, spec_.x_description,
                         spec_.y_description);
  for (const auto& s : spec_.series)
    for (const auto& point : s.points)
      out += QString("%1,%2,%3\n").arg(s.name).arg(point.x(), 0, 'g', 17).arg(point.y(), 0, 'g', 17);
  return out;
}

QString PlotFigure::json() const {
  QJsonArray series;
  for (const auto& s : spec_.series) {
    QJsonArray points;
    for (const auto& point : s.points) points.append(QJsonArray{point.x(), point.y()});
    series.append(QJsonObject{{"name", s.name}, {"points", points}});
  }
  const QJsonObject root{{"figure", spec_.title}, {"subtitle", spec_.subtitle}, {"x", spec_.x_description},
                         {"y", spec_.y_description}, {"series", series}};
  return QString::fromUtf8(QJsonDocument(root).toJson());
}

}  // namespace moewb
