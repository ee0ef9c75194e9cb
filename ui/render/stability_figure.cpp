#include "ui/render/stability_figure.h"

#include <QFontMetricsF>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPainter>
#include <QStringList>

#include <algorithm>
#include <cmath>

#include "core/runs/run_name.h"
#include "ui/render/palette.h"
#include "ui/render/routing_text.h"

namespace moewb {

namespace {

constexpr double kCmPerInch = 2.54;
constexpr double kPageWidthCm = 17;  // an A4 text column, as the routing figure
constexpr double kRowPt = 4;         // one snapshot pair's band in the wrapped figure
constexpr int kContext = 8;          // characters either side in a tooltip
constexpr int kMaxLegendExperts = 64;

QColor mix(const QColor& a, const QColor& b, double t) {
  return QColor::fromRgbF(static_cast<float>(a.redF() * (1 - t) + b.redF() * t),
                          static_cast<float>(a.greenF() * (1 - t) + b.greenF() * t),
                          static_cast<float>(a.blueF() * (1 - t) + b.blueF() * t));
}

QColor opaque(const QColor& background) { return background.alpha() == 0 ? QColor(Qt::white) : background; }

QColor unchanged_color(const QColor& background) {
  const QColor bg = opaque(background);
  return is_dark(bg) ? mix(bg, Qt::white, 0.10) : mix(bg, Qt::black, 0.07);
}

QColor dropped_color(const QColor& background) { return is_dark(opaque(background)) ? QColor(150, 150, 150) : QColor(110, 110, 110); }

// The summary band: more changes, darker (lighter on a dark background); 0 changes is the unchanged colour.
QColor summary_color(int changes, int rows, const QColor& background, const QColor& foreground) {
  if (changes == 0 || rows == 0) return unchanged_color(background);
  return mix(unchanged_color(background), foreground, 0.15 + 0.7 * changes / rows);
}

QString expert_name(int e) { return e < 0 ? QString("none (all dropped)") : QString("E%1").arg(e); }

QString context_of(const TopExpertChangeMatrix& m, int t, bool html) {
  QString out;
  const int from = std::max(0, t - kContext), to = std::min(m.length(), t + kContext + 1);
  if (from > 0) out += "…";
  for (int i = from; i < to; ++i) {
    const QString c = visible_char(m.text[static_cast<size_t>(i)]);
    if (i == t) out += html ? "<b><u>" + c.toHtmlEscaped() + "</u></b>" : "[" + c + "]";
    else out += html ? c.toHtmlEscaped() : c;
  }
  if (to < m.length()) out += "…";
  return out;
}

// Characters of one line: the same strip as the routing heatmap's (whitespace muted).
void paint_char(QPainter& p, const TopExpertChangeMatrix& m, int t, const QRectF& cell, const FigureStyle& st) {
  const char32_t ch = m.text[static_cast<size_t>(t)];
  p.setPen(ch == U' ' || ch == U'\n' || ch == U'\t' ? st.muted : st.foreground);
  p.drawText(cell, Qt::AlignCenter, visible_char(ch));
}

// One column of the summary band, with the count when there is room.
void paint_summary(QPainter& p, const TopExpertChangeMatrix& m, int t, const QRectF& cell, const FigureStyle& st) {
  const int n = m.column_changes(t);
  const QColor bg = summary_color(n, m.rows(), st.background, st.foreground);
  p.fillRect(cell, bg);
  if (n == 0 || cell.width() < st.px(4.5) || cell.height() < st.px(4.5)) return;
  p.setPen(bg.lightnessF() > 0.55 ? QColor(20, 20, 20) : QColor(245, 245, 245));
  p.drawText(cell, Qt::AlignCenter, QString::number(n));
}

// The legend's parts, shared by the screen view and the export: swatches of the new top experts, the unchanged
// swatch, then (exports; the screen view's page says it in words) notes on rows, columns and the summary band.
// Paints when p is given; returns its height.
double legend(QPainter* p, const TopExpertChangeMatrix& m, double x, double y, double width, const FigureStyle& st,
              QPaintDevice* device, bool notes_too) {
  const QFont font = st.font(st.text_pt);
  const QFontMetricsF fm(font, device);
  const double line = fm.height() * 1.15, swatch = fm.height() * 0.62;
  if (p) p->setFont(font);
  const double top = y;
  double cx = x;
  auto item = [&](const QString& name, const QColor& color, bool frame) {
    const double w = swatch * 1.5 + fm.horizontalAdvance(name) + swatch;
    if (cx > x && cx + w > x + width) cx = x, y += line;
    if (p) {
      const QRectF box(cx, y + (line - swatch) / 2, swatch, swatch);
      p->fillRect(box, color);
      if (frame) {
        p->setPen(QPen(st.muted, 0.5));
        p->setBrush(Qt::NoBrush);
        p->drawRect(box);
      }
      p->setPen(st.foreground);
      p->drawText(QRectF(cx + swatch * 1.5, y, w, line), Qt::AlignVCenter | Qt::AlignLeft, name);
    }
    cx += w;
  };
  const QString lead = "changed to";
  if (p) {
    p->setPen(st.foreground);
    p->drawText(QRectF(cx, y, fm.horizontalAdvance(lead) + 2, line), Qt::AlignVCenter, lead);
  }
  cx += fm.horizontalAdvance(lead) + swatch;
  for (int e = 0; e < std::min(m.n_experts, kMaxLegendExperts); ++e) item(QString("E%1").arg(e), expert_color(e, st.background), false);
  item("unchanged", unchanged_color(st.background), true);
  bool dropped = false;
  for (size_t i = 0; i < m.new_experts.size() && !dropped; ++i) dropped = m.new_experts[i] < 0 && m.old_experts[i] >= 0;
  if (dropped) item("every assignment dropped", dropped_color(st.background), false);
  // the band's scale: a swatch per count, or five of them for many snapshots
  const QString band = "· times changed";
  const double band_w = fm.horizontalAdvance(band) + swatch;
  if (cx > x && cx + band_w > x + width) cx = x, y += line;
  if (p) {
    p->setPen(st.foreground);
    p->drawText(QRectF(cx, y, band_w, line), Qt::AlignVCenter, band);
  }
  cx += band_w;
  std::vector<int> counts;
  constexpr int kAllCounts = 8;
  for (int i = 0; i <= std::min(m.rows(), kAllCounts); ++i) counts.push_back(m.rows() <= kAllCounts ? i : (i * m.rows() + 4) / kAllCounts);
  for (int k : counts) item(QString::number(k), summary_color(k, m.rows(), st.background, st.foreground), k == 0);
  y += line;
  if (!notes_too) return y - top;
  const QString notes =
      QString("Layer %1 · rows: consecutive routing snapshots of the probe text (step before → after) · colour = the "
              "new top expert where it changed · bottom band: how many of the %2 changes between snapshots each "
              "character went through")
          .arg(m.layer)
          .arg(m.rows());
  const QRectF box = fm.boundingRect(QRectF(x, y, width, 10000), Qt::TextWordWrap, notes);
  if (p) {
    p->setPen(st.muted);
    p->drawText(QRectF(x, y, width, box.height() + 2), Qt::TextWordWrap | Qt::AlignLeft, notes);
  }
  return y + box.height() + st.px(2) - top;
}

}  // namespace

QString stability_subtitle(const QString& run, const Config& config, const TopExpertChangeMatrix& matrix) {
  QString out = QString::fromStdString(figure_subtitle(run.toStdString(), config, -1, TraceCapacity::not_a_trace));
  if (matrix.empty()) return out;
  return out + QString(" · %1 characters, %2 snapshots (steps %3–%4)")
                   .arg(matrix.length())
                   .arg(matrix.rows() + 1)
                   .arg(matrix.steps.front())
                   .arg(matrix.steps.back());
}

// ---- geometry ----

QRectF StabilityGeometry::cellRect(int row, int column) const {
  const double x = left + column * cell_width - scroll_x;
  if (row < 0) return {x, summaryTop(), cell_width, summary};
  return {x, top + row * row_height - scroll_y, cell_width, row_height};
}

std::optional<int> StabilityGeometry::columnAt(double x) const {
  if (x < left || cell_width <= 0) return std::nullopt;
  const int column = static_cast<int>(std::floor((x - left + scroll_x) / cell_width));
  if (column < 0 || column >= columns) return std::nullopt;
  return column;
}

std::optional<StabilityCell> StabilityGeometry::cellAt(const QPointF& p) const {
  const auto column = columnAt(p.x());
  if (!column || rows == 0) return std::nullopt;
  if (p.y() >= summaryTop() && p.y() < summaryTop() + summary) return StabilityCell{-1, *column};
  if (p.y() < top || p.y() >= gridBottom() || row_height <= 0) return std::nullopt;
  const int row = static_cast<int>(std::floor((p.y() - top + scroll_y) / row_height));
  if (row < 0 || row >= rows) return std::nullopt;
  return StabilityCell{row, *column};
}

std::pair<int, int> StabilityGeometry::visibleColumns(double viewportWidth) const {
  if (cell_width <= 0 || columns == 0) return {0, 0};
  const int first = std::max(0, static_cast<int>(std::floor(scroll_x / cell_width)));
  const int last = std::min(columns, static_cast<int>(std::ceil((scroll_x + viewportWidth - left) / cell_width)) + 1);
  return {first, std::max(first, last)};
}

std::pair<int, int> StabilityGeometry::visibleRows() const {
  if (row_height <= 0 || rows == 0) return {0, 0};
  const int first = std::max(0, static_cast<int>(std::floor(scroll_y / row_height)));
  const int last = std::min(rows, static_cast<int>(std::ceil((scroll_y + grid_height) / row_height)));
  return {first, std::max(first, last)};
}

// ---- text ----

QColor stability_cell_color(const TopExpertChangeMatrix& m, int row, int column, const QColor& background) {
  if (!m.changed(row, column)) return unchanged_color(background);
  const int e = m.new_expert(row, column);
  return e < 0 ? dropped_color(background) : expert_color(e, opaque(background));
}

QString stability_row_label(const TopExpertChangeMatrix& m, int row, bool share) {
  QString label = QString("%1 → %2").arg(m.step_before(row)).arg(m.step_after(row));
  if (share) label += QString(" · %1 %").arg(std::lround(100 * m.row_share(row)));
  return label;
}

QString stability_cell_text(const TopExpertChangeMatrix& m, int row, int column, bool html) {
  if (column < 0 || column >= m.length() || row < -1 || row >= m.rows()) return {};
  const QString ch = visible_char(m.text[static_cast<size_t>(column)]);
  const QString where = html ? QString("<b>'%1'</b> at position %2 · layer %3").arg(ch.toHtmlEscaped()).arg(column).arg(m.layer)
                             : QString("'%1' at position %2 · layer %3").arg(ch).arg(column).arg(m.layer);
  const QString context = context_of(m, column, html);
  const QString br = html ? "<br>" : " · ";
  QString what;
  if (row < 0) {
    QStringList when;
    for (int r = 0; r < m.rows(); ++r)
      if (m.changed(r, column))
        when << QString("%1 → %2: %3 → %4").arg(m.step_before(r)).arg(m.step_after(r))
                    .arg(expert_name(m.old_expert(r, column)), expert_name(m.new_expert(r, column)));
    what = QString("top expert changed %1 of %2 times").arg(m.column_changes(column)).arg(m.rows());
    if (!when.isEmpty()) what += (html ? "<br>" : ": ") + when.join(html ? "<br>" : "; ");
  } else {
    const int before = m.old_expert(row, column), after = m.new_expert(row, column);
    what = QString("steps %1 → %2: ").arg(m.step_before(row)).arg(m.step_after(row)) +
           (m.changed(row, column) ? QString("top expert %1 → %2").arg(expert_name(before), expert_name(after))
                                   : QString("top expert %1, unchanged").arg(expert_name(before)));
  }
  const QString out = where + br + context + br + what;
  return html ? "<div style=\"white-space:nowrap\">" + out + "</div>" : out;
}

double stability_label_width(const TopExpertChangeMatrix& m, const FigureStyle& st, QPaintDevice* device) {
  const QFontMetricsF fm(st.font(st.text_pt), device);
  double w = fm.horizontalAdvance("changes");
  for (int r = 0; r < m.rows(); ++r) w = std::max(w, fm.horizontalAdvance(stability_row_label(m, r, true)));
  return std::ceil(w + st.px(6));
}

double stability_legend_height(const TopExpertChangeMatrix& m, double width, const FigureStyle& st, QPaintDevice* device) {
  if (m.empty()) return 0;
  return legend(nullptr, m, 0, 0, width, st, device, false);
}

// ---- the screen view ----

void paint_stability_strip(QPainter& p, const QRectF& target, const TopExpertChangeMatrix& m,
                           const StabilityGeometry& g, const StabilityView& view, const FigureStyle& st) {
  p.save();
  p.setClipRect(target);
  p.translate(target.topLeft());
  const QRectF area(QPointF(0, 0), target.size());
  p.fillRect(area, st.background);
  if (m.empty()) {
    p.setPen(st.muted);
    p.setFont(st.font(st.label_pt));
    p.drawText(area, Qt::AlignCenter | Qt::TextWordWrap,
               view.empty_message.isEmpty()
                   ? QString("Routing stability needs at least two routing snapshots of the probe text (one per evaluation).")
                   : view.empty_message);
    p.restore();
    return;
  }
  const std::pair<int, int> columns = g.visibleColumns(target.width()), rows = g.visibleRows();
  const int first = columns.first, last = columns.second, row0 = rows.first, row1 = rows.second;
  const double gap_x = g.cell_width >= 8 ? 1 : 0, gap_y = g.row_height >= 8 ? 1 : 0;
  p.save();
  p.setClipRect(QRectF(g.left, g.top, target.width() - g.left, g.grid_height));
  for (int r = row0; r < row1; ++r)
    for (int c = first; c < last; ++c)
      p.fillRect(g.cellRect(r, c).adjusted(0, 0, -gap_x, -gap_y), stability_cell_color(m, r, c, st.background));
  p.restore();
  p.save();
  p.setClipRect(QRectF(g.left, g.gridBottom(), target.width() - g.left, target.height() - g.gridBottom()));
  if (g.cell_width >= 6) {
    p.setFont(st.mono(std::clamp(g.cell_width * 0.5, 6.0, 11.0)));
    for (int c = first; c < last; ++c) {
      const QRectF cell = g.cellRect(0, c);
      paint_char(p, m, c, QRectF(cell.left(), g.gridBottom(), cell.width(), g.strip), st);
    }
  }
  p.setFont(st.font(std::min(st.text_pt, g.cell_width / kPxPerPt * 0.75)));
  for (int c = first; c < last; ++c) paint_summary(p, m, c, g.cellRect(-1, c).adjusted(0, 0, -gap_x, 0), st);
  p.restore();
  // hovered column (thin) and the pinned cell (thick), over grid, characters and band
  p.save();
  p.setClipRect(QRectF(g.left, 0, target.width() - g.left, g.summaryTop() + g.summary + 1));
  p.setBrush(Qt::NoBrush);
  if (view.hovered_column >= first && view.hovered_column < last) {
    QColor hover = st.foreground;
    hover.setAlpha(110);
    p.setPen(QPen(hover, 1));
    const QRectF col = g.cellRect(0, view.hovered_column);
    p.drawRect(QRectF(col.left(), g.top, col.width(), g.summaryTop() + g.summary - g.top).adjusted(0.5, 0.5, -0.5, -0.5));
  }
  auto outline = [&](int row, int column, const QColor& color, double width) {
    if (column < first || column >= last || row < -1) return;
    p.setPen(QPen(color, width));
    p.drawRect(g.cellRect(row, column).adjusted(width / 2, width / 2, -width / 2, -width / 2));
  };
  outline(view.hovered_row, view.hovered_column, st.foreground, 1.5);
  outline(view.pinned_row, view.pinned_column, st.foreground, 2);
  p.restore();
  // row labels: steps and the share of characters that changed (the stability curve's value)
  p.save();
  p.setClipRect(QRectF(0, g.top, g.left, g.grid_height));
  p.setFont(st.font(std::min(st.text_pt, g.row_height / kPxPerPt * 0.9)));
  for (int r = row0; r < row1; ++r) {
    const QRectF cell = g.cellRect(r, 0);
    p.setPen(r == view.pinned_row ? st.foreground : st.muted);
    p.drawText(QRectF(0, cell.top(), g.left - st.px(4), g.row_height), Qt::AlignRight | Qt::AlignVCenter,
               stability_row_label(m, r, true));
  }
  p.restore();
  p.setFont(st.font(st.text_pt));
  p.setPen(st.foreground);
  p.drawText(QRectF(0, g.summaryTop(), g.left - st.px(4), g.summary), Qt::AlignRight | Qt::AlignVCenter, "changes");
  legend(&p, m, st.px(3), g.summaryTop() + g.summary + st.px(4), target.width() - st.px(6), st, p.device(), false);
  p.restore();
}

// ---- the wrapped figure ----

WrappedStability StabilityFigure::layout(double width, const FigureStyle& st, QPaintDevice* device) const {
  if (!device) device = layout_device();
  WrappedStability w;
  const QFontMetricsF title(st.font(st.title_pt, true), device), text(st.font(st.text_pt), device);
  w.header = st.px(4) + title.height() + (view_.subtitle.isEmpty() ? 0 : text.height()) + st.px(4);
  if (matrix_.empty()) {
    w.legend = text.height() * 2;
    return w;
  }
  w.rows = matrix_.rows();
  const double base_cell = st.px(st.char_pt) * 0.602 * 1.3;  // a monospace advance with air between characters
  const double base_row = st.px(kRowPt);
  w.row_height = base_row;
  // the gutter holds "250 → 500" in a font that fits a row
  const QFontMetricsF label(st.font(std::min(st.text_pt, std::max(3.0, kRowPt * 0.95))), device);
  for (int r = 0; r < w.rows; ++r) w.gutter = std::max(w.gutter, label.horizontalAdvance(stability_row_label(matrix_, r, false)));
  w.gutter = std::max(w.gutter, label.horizontalAdvance("changes")) + st.px(4);
  const double available = std::max(st.px(20), width - w.gutter - st.px(4));
  const int n = matrix_.length();
  w.lines = std::max(1, static_cast<int>(std::ceil(n * base_cell / available)));
  w.per_line = std::max(1, (n + w.lines - 1) / w.lines);
  w.lines = (n + w.per_line - 1) / w.per_line;
  w.cell = std::min(available / w.per_line, base_cell * 3);  // a short text: larger cells, not a stretched line
  const double char_pt = std::min(st.char_pt * w.cell / base_cell, st.text_pt * 1.2);
  w.strip = st.px(char_pt) * 1.35;
  w.summary = std::max(base_row * 1.6, st.px(char_pt) * 1.2);
  w.gap = st.px(4);
  w.legend = st.px(2) + legend(nullptr, matrix_, 0, 0, width - st.px(4), st, device, true);
  return w;
}

double StabilityFigure::heightForWidth(double width, const FigureStyle& style) const {
  return std::ceil(layout(width, style).height());
}

QSizeF StabilityFigure::naturalSize() const {
  const double width = kPageWidthCm / kCmPerInch * 96;
  return {width, heightForWidth(width, FigureStyle::screen())};
}

void StabilityFigure::paint(QPainter& p, const QRectF& target, const FigureStyle& st) const {
  p.save();
  p.setRenderHint(QPainter::Antialiasing, false);  // cells abut exactly
  p.setRenderHint(QPainter::TextAntialiasing);
  p.fillRect(target, st.background);
  p.translate(target.topLeft());
  const WrappedStability w = layout(target.width(), st, p.device());
  const QFont title_font = st.font(st.title_pt, true), text_font = st.font(st.text_pt);
  const QFontMetricsF title(title_font, p.device()), text(text_font, p.device());
  const double inner = target.width() - st.px(4);
  double y = st.px(4);
  p.setPen(st.foreground);
  p.setFont(title_font);
  p.drawText(QRectF(st.px(2), y, inner, title.height()), Qt::AlignLeft | Qt::AlignVCenter,
             title.elidedText(view_.title, Qt::ElideRight, inner));
  y += title.height();
  if (!view_.subtitle.isEmpty()) {
    p.setFont(text_font);
    p.setPen(st.muted);
    p.drawText(QRectF(st.px(2), y, inner, text.height()), Qt::AlignLeft | Qt::AlignVCenter,
               text.elidedText(view_.subtitle, Qt::ElideRight, inner));
  }
  if (matrix_.empty()) {
    p.setPen(st.muted);
    p.setFont(text_font);
    p.drawText(QRectF(st.px(2), w.header, inner, w.legend), Qt::AlignLeft | Qt::TextWordWrap,
               "Fewer than two routing snapshots of one probe text: no changes to show.");
    p.restore();
    return;
  }
  const double base_cell = st.px(st.char_pt) * 0.602 * 1.3;
  const QFont mono = st.mono(std::min(st.char_pt * w.cell / base_cell, st.text_pt * 1.2));
  const QFont label_font = st.font(std::min(st.text_pt, std::max(3.0, kRowPt * 0.95)));
  const QFont count_font = st.font(std::min(st.text_pt, w.cell / kPxPerPt * 0.8));
  const double sep = w.row_height >= st.px(3) ? 0.5 : 0;  // a hairline between rows where they are tall enough
  for (int line = 0; line < w.lines; ++line) {
    const double top = w.header + line * w.lineHeight();
    const int first = line * w.per_line, last = std::min(matrix_.length(), first + w.per_line);
    for (int r = 0; r < w.rows; ++r)
      for (int c = first; c < last; ++c)
        p.fillRect(QRectF(w.gutter + (c - first) * w.cell, top + r * w.row_height, w.cell, w.row_height - sep),
                   stability_cell_color(matrix_, r, c, st.background));
    p.setRenderHint(QPainter::Antialiasing);
    p.setFont(label_font);
    p.setPen(st.muted);
    for (int r = 0; r < w.rows; ++r)
      p.drawText(QRectF(0, top + r * w.row_height, w.gutter - st.px(2), w.row_height), Qt::AlignRight | Qt::AlignVCenter,
                 stability_row_label(matrix_, r, false));
    p.setFont(mono);
    const double strip_top = top + w.rows * w.row_height;
    for (int c = first; c < last; ++c)
      paint_char(p, matrix_, c, QRectF(w.gutter + (c - first) * w.cell, strip_top, w.cell, w.strip), st);
    p.setRenderHint(QPainter::Antialiasing, false);
    p.setFont(count_font);
    for (int c = first; c < last; ++c)
      paint_summary(p, matrix_, c, QRectF(w.gutter + (c - first) * w.cell, strip_top + w.strip, w.cell - sep, w.summary), st);
    p.setRenderHint(QPainter::Antialiasing);
    p.setFont(label_font);
    p.setPen(st.foreground);
    p.drawText(QRectF(0, strip_top + w.strip, w.gutter - st.px(2), w.summary), Qt::AlignRight | Qt::AlignVCenter, "changes");
    p.setRenderHint(QPainter::Antialiasing, false);
  }
  p.setRenderHint(QPainter::Antialiasing);
  legend(&p, matrix_, st.px(2), w.header + w.lines * w.lineHeight() + st.px(2), inner, st, p.device(), true);
  p.restore();
}

QString StabilityFigure::csv() const {
  QString out = QString("# layer %1: top expert of each probe-text character in consecutive routing snapshots; "
                        "old_expert at step_before, new_expert at step_after (-1: capacity dropped every assignment); "
                        "changed = 1 when they differ; the mean of changed per step pair is the stability curve\n"
                        "step_before,step_after,position,character,old_expert,new_expert,changed\n")
                    .arg(matrix_.layer);
  for (int r = 0; r < matrix_.rows(); ++r)
    for (int t = 0; t < matrix_.length(); ++t)
      out += QString("%1,%2,%3,%4,%5,%6,%7\n")
                 .arg(matrix_.step_before(r))
                 .arg(matrix_.step_after(r))
                 .arg(t)
                 .arg(csv_cell(visible_char(matrix_.text[static_cast<size_t>(t)])))
                 .arg(matrix_.old_expert(r, t))
                 .arg(matrix_.new_expert(r, t))
                 .arg(matrix_.changed(r, t) ? 1 : 0);
  return out;
}

QString StabilityFigure::json() const {
  QJsonArray rows;
  for (int r = 0; r < matrix_.rows(); ++r) {
    QJsonArray before, after;
    for (int t = 0; t < matrix_.length(); ++t) {
      before.append(matrix_.old_expert(r, t));
      after.append(matrix_.new_expert(r, t));
    }
    rows.append(QJsonObject{{"step_before", matrix_.step_before(r)}, {"step_after", matrix_.step_after(r)},
                            {"share_changed", matrix_.row_share(r)}, {"old_expert", before}, {"new_expert", after}});
  }
  QJsonArray changes;
  for (int t = 0; t < matrix_.length(); ++t) changes.append(matrix_.column_changes(t));
  return QString::fromUtf8(
      QJsonDocument(QJsonObject{{"layer", matrix_.layer},
                                {"text", QString::fromStdU32String(matrix_.text)},
                                {"convention", "top expert per character in consecutive snapshots; -1 = every "
                                               "assignment dropped by capacity"},
                                {"rows", rows},
                                {"changes_per_character", changes}})
          .toJson());
}

}  // namespace moewb
