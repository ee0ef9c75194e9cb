#include "ui/render/routing_figure.h"

#include <QFontMetricsF>
#include <QPainter>

#include <algorithm>
#include <cmath>

#include "core/runs/run_name.h"
#include "ui/render/palette.h"
#include "ui/render/routing_text.h"

namespace moewb {

QColor routing_cell_color(const LayerTrace& l, int position, const QColor& background) {
  const int e = l.top_expert(position);
  if (e < 0) return {235, 235, 235};  // every assignment dropped
  double weight = 0;
  for (int s = 0; s < l.slots; ++s)
    if (l.chosen_at(position, s) == e && !l.dropped_at(position, s)) weight = l.weight_at(position, s);
  return weighted_expert_color(e, weight, background);
}

namespace {

constexpr double kCmPerInch = 2.54;
constexpr double kPageWidthCm = 17;     // an A4 text column
constexpr double kOverviewRowPt = 4;    // one layer's band in a wrapped figure
constexpr double kDetailRowPt = 3.5;    // one expert's band
constexpr double kGutterPt = 16;        // row labels left of each line
constexpr int kMaxLegendExperts = 64;

// Diagonal lines across a cell (cross = both directions), spaced in logical pixels so hatching looks the same
// at every resolution and stays vector in SVG and PDF (brush patterns are device pixels).
void hatch(QPainter& p, const QRectF& cell, const QColor& color, double spacing, bool cross) {
  p.save();
  p.setClipRect(cell, Qt::IntersectClip);
  p.setPen(QPen(color, std::max(0.35, spacing * 0.22)));
  const double h = cell.height();
  for (double x = cell.left() - h; x < cell.right(); x += spacing) {
    p.drawLine(QPointF(x, cell.bottom()), QPointF(x + h, cell.top()));
    if (cross) p.drawLine(QPointF(x, cell.top()), QPointF(x + h, cell.bottom()));
  }
  p.restore();
}

// One character's column: a cell per layer (overview) or per expert of the detail layer.
void paint_column(QPainter& p, const RoutingTrace& t, int detail, int c, double x, double top, double w,
                  double row_h, const FigureStyle& st) {
  const bool sigmoid = t.routing == RoutingMode::sigmoid;
  if (detail >= 0) {
    const LayerTrace& l = t.layers[static_cast<size_t>(detail)];
    for (int r = 0; r < t.n_experts; ++r) {
      const QRectF cell(x, top + r * row_h, w, row_h);
      p.fillRect(cell, viridis(l.prob(c, r)));
      for (int s = 0; s < l.slots; ++s) {
        if (l.chosen_at(c, s) != r) continue;
        if (l.dropped_at(c, s)) {
          hatch(p, cell, QColor(255, 255, 255, 220), std::max(1.5, std::min(w, row_h) / 3), true);
        } else {
          const double radius = std::min(w, row_h) * 0.2;
          p.setPen(Qt::NoPen);
          p.setBrush(Qt::white);
          p.drawEllipse(cell.center(), radius, radius);
        }
      }
    }
    return;
  }
  for (int r = 0; r < static_cast<int>(t.layers.size()); ++r) {
    const LayerTrace& l = t.layers[static_cast<size_t>(r)];
    const QRectF cell(x, top + r * row_h, w, row_h);
    p.fillRect(cell, routing_cell_color(l, c, st.background));
    if (l.any_dropped(c)) hatch(p, cell, QColor(40, 40, 40, 190), std::max(1.5, std::min(w, row_h) / 3), false);
    if (sigmoid && w >= st.px(6) && row_h >= st.px(6)) {
      QFont f = st.font(std::min(st.text_pt, row_h / kPxPerPt * 0.7));
      p.setFont(f);
      p.setPen(QColor(20, 20, 20));
      p.drawText(cell, Qt::AlignCenter, QString::number(l.active_count(c)));
    }
  }
}

void paint_char(QPainter& p, const RoutingTrace& t, int c, const QRectF& cell, const FigureStyle& st) {
  const char32_t ch = t.text[static_cast<size_t>(c)];
  p.setPen(ch == U' ' || ch == U'\n' || ch == U'\t' ? st.muted : st.foreground);
  p.drawText(cell, Qt::AlignCenter, visible_char(ch));
}

// Row labels: "layer r" / "L r" or "E r" with its colour, in a font that fits the row.
void paint_row_labels(QPainter& p, const RoutingTrace& t, int detail, double right, double top, double row_h,
                      const FigureStyle& st, bool short_names) {
  const int rows = detail >= 0 ? t.n_experts : static_cast<int>(t.layers.size());
  const double pt = std::min(st.text_pt, row_h / kPxPerPt * 0.92);
  if (pt < 3) return;  // too thin to label: the legend names the row order
  p.setFont(st.font(pt));
  p.setPen(st.foreground);
  const double swatch = detail >= 0 ? std::min(row_h * 0.8, st.px(6)) : 0;
  for (int r = 0; r < rows; ++r) {
    const QRectF row(0, top + r * row_h, right - st.px(2), row_h);
    if (swatch > 0)
      p.fillRect(QRectF(row.right() - swatch, row.center().y() - swatch / 2, swatch, swatch),
                 expert_color(r, st.background));
    const QString text = detail >= 0 ? QString("E%1").arg(r) : QString(short_names ? "L%1" : "layer %1").arg(r);
    p.drawText(row.adjusted(0, 0, -(swatch > 0 ? swatch + st.px(2) : 0), 0), Qt::AlignVCenter | Qt::AlignRight, text);
  }
}

// The legend's parts: expert swatches (overview) or a colour bar (detail), then the notes explaining the marks.
struct Legend {
  QString notes;
  bool colour_bar = false;
  int experts = 0;
};

Legend legend_of(const RoutingTrace& t, int detail) {
  Legend l;
  const int rows = static_cast<int>(t.layers.size());
  if (detail >= 0) {
    l.colour_bar = true;
    l.notes = QString("Layer %1, one row per expert · colour = router %2 · dot = chosen · cross-hatched = dropped by "
                      "capacity")
                  .arg(detail)
                  .arg(t.routing == RoutingMode::sigmoid ? "gate σ(z)" : "probability");
    return l;
  }
  l.experts = std::min(t.n_experts, kMaxLegendExperts);
  l.notes = t.routing == RoutingMode::hash ? "colour = the fixed hash expert of the character"
                                : "colour = top expert, paler = lower weight";
  if (t.routing == RoutingMode::sigmoid) l.notes += " · number = active experts";
  l.notes += " · hatched = capacity dropped an assignment";
  l.notes += QString(" · rows: layer 0 (top) to %1").arg(rows - 1);
  return l;
}

// Paints (or, with paint false, only measures) the legend inside width starting at (x, y); returns its height.
double legend(QPainter* p, const RoutingTrace& t, int detail, double x, double y, double width, const FigureStyle& st,
              QPaintDevice* device) {
  const Legend l = legend_of(t, detail);
  const QFont font = st.font(st.text_pt);
  const QFontMetricsF m(font, device);
  const double line = m.height() * 1.15, swatch = m.height() * 0.62;
  if (p) p->setFont(font);
  double top = y;
  if (l.colour_bar) {
    const QString label = t.routing == RoutingMode::sigmoid ? "gate 0" : "probability 0";
    double cx = x;
    if (p) {
      p->setPen(st.foreground);
      p->drawText(QRectF(cx, y, m.horizontalAdvance(label) + 1, line), Qt::AlignVCenter, label);
    }
    cx += m.horizontalAdvance(label) + st.px(3);
    const double bar = std::min(width * 0.4, st.px(90));
    if (p) {
      QLinearGradient g(cx, 0, cx + bar, 0);
      for (int i = 0; i <= 8; ++i) g.setColorAt(i / 8.0, viridis(i / 8.0));
      p->fillRect(QRectF(cx, y + (line - swatch) / 2, bar, swatch), g);
      p->drawText(QRectF(cx + bar + st.px(3), y, m.horizontalAdvance("1") + 2, line), Qt::AlignVCenter, "1");
    }
    y += line;
  } else if (l.experts > 0) {
    double cx = x;
    for (int e = 0; e < l.experts; ++e) {
      const QString name = QString("E%1").arg(e);
      const double w = swatch * 1.5 + m.horizontalAdvance(name) + swatch;
      if (cx > x && cx + w > x + width) cx = x, y += line;
      if (p) {
        p->fillRect(QRectF(cx, y + (line - swatch) / 2, swatch, swatch), expert_color(e, st.background));
        p->setPen(st.foreground);
        p->drawText(QRectF(cx + swatch * 1.5, y, w, line), Qt::AlignVCenter | Qt::AlignLeft, name);
      }
      cx += w;
    }
    y += line;
  }
  const QRectF notes = m.boundingRect(QRectF(x, y, width, 10000), Qt::TextWordWrap, l.notes);
  if (p) {
    p->setPen(st.muted);
    p->drawText(QRectF(x, y, width, notes.height() + 2), Qt::TextWordWrap | Qt::AlignLeft, l.notes);
  }
  return y + notes.height() + st.px(2) - top;
}

}  // namespace

QString trace_subtitle(const QString& run, const Config& config, const RoutingTrace& trace) {
  const TraceCapacity capacity = trace.capacity ? TraceCapacity::applied : TraceCapacity::not_applied;
  return QString::fromStdString(figure_subtitle(run.toStdString(), config, trace.step, capacity));
}

int shown_detail_layer(const RoutingTrace& trace, const RoutingView& view) {
  return view.detail_layer >= 0 && view.detail_layer < static_cast<int>(trace.layers.size()) ? view.detail_layer : -1;
}

double routing_legend_height(const RoutingTrace& trace, const RoutingView& view, double width, const FigureStyle& style,
                             QPaintDevice* device) {
  if (trace.empty()) return 0;
  return legend(nullptr, trace, shown_detail_layer(trace, view), 0, 0, width, style, device);
}

double routing_char_strip_height(double cell_width, const FigureStyle& style) {
  return cell_width >= 6 ? style.px(std::clamp(cell_width * 0.5, 6.0, 11.0)) * 1.5 : style.px(3);
}

void paint_routing_strip(QPainter& p, const QRectF& target, const RoutingTrace& t, const HeatmapGeometry& g,
                         const RoutingView& view, const FigureStyle& st) {
  p.save();
  p.setClipRect(target);
  p.translate(target.topLeft());
  p.fillRect(QRectF(QPointF(0, 0), target.size()), st.background);
  if (t.empty()) {
    p.setPen(st.muted);
    p.setFont(st.font(st.label_pt));
    p.drawText(QRectF(QPointF(0, 0), target.size()), Qt::AlignCenter | Qt::TextWordWrap,
               !t.routing
                   ? "No routing in a dense model: every character goes through the same feed-forward layer."
                   : "No routing trace yet: train an MoE model, open a run, or trace a text.");
    p.restore();
    return;
  }
  const int detail = shown_detail_layer(t, view);
  const auto [first, last] = g.visibleColumns(target.width());
  p.save();
  p.setClipRect(QRectF(g.left, 0, target.width() - g.left, target.height()));
  for (int c = first; c < last; ++c) paint_column(p, t, detail, c, g.left + c * g.cell_width - g.scroll_x, g.top, g.cell_width, g.row_height, st);
  const double strip = routing_char_strip_height(g.cell_width, st);
  if (g.cell_width >= 6) {
    p.setFont(st.mono(std::clamp(g.cell_width * 0.5, 6.0, 11.0)));
    for (int c = first; c < last; ++c)
      paint_char(p, t, c, QRectF(g.left + c * g.cell_width - g.scroll_x, g.gridBottom(), g.cell_width, strip), st);
  }
  auto outline = [&](int column, const QColor& color, qreal width) {
    if (column < first || column >= last) return;
    const QRectF col(g.left + column * g.cell_width - g.scroll_x, g.top, g.cell_width, g.gridBottom() - g.top + strip);
    p.setPen(QPen(color, width));
    p.setBrush(Qt::NoBrush);
    p.drawRect(col.adjusted(0.5, 0.5, -0.5, -0.5));
  };
  outline(view.pinned, st.foreground, 2.0);
  QColor hover = st.foreground;
  hover.setAlpha(150);
  outline(view.hovered, hover, 1.5);
  p.restore();
  paint_row_labels(p, t, detail, g.left, g.top, g.row_height, st, false);
  legend(&p, t, detail, st.px(3), g.gridBottom() + strip + st.px(3), target.width() - st.px(6), st, p.device());
  p.restore();
}

// ---- the wrapped figure ----

QString RoutingFigure::name() const {
  const QString step = trace_.step >= 0 ? QString("_step_%1").arg(trace_.step, 6, 10, QChar('0')) : QString();
  const int layer = shown_detail_layer(trace_, view_);
  return layer >= 0 ? QString("routing_L%1_experts%2").arg(layer).arg(step) : QString("routing%1").arg(step);
}

WrappedRouting RoutingFigure::layout(double width, const FigureStyle& st, QPaintDevice* device) const {
  if (!device) device = layout_device();
  WrappedRouting w;
  const QFontMetricsF title(st.font(st.title_pt, true), device), text(st.font(st.text_pt), device);
  w.header = st.px(4) + title.height() + (view_.subtitle.isEmpty() ? 0 : text.height()) + st.px(4);
  if (trace_.empty()) {
    w.legend = text.height() * 2;
    return w;
  }
  const int detail = shown_detail_layer(trace_, view_);
  w.rows = detail >= 0 ? trace_.n_experts : static_cast<int>(trace_.layers.size());
  w.gutter = st.px(kGutterPt);
  const double available = std::max(st.px(20), width - w.gutter - st.px(4));
  const double base_cell = st.px(st.char_pt) * 0.602 * 1.3;  // a monospace advance with air between characters
  const int n = trace_.length();
  w.lines = std::max(1, static_cast<int>(std::ceil(n * base_cell / available)));
  w.per_line = std::max(1, (n + w.lines - 1) / w.lines);
  w.lines = (n + w.per_line - 1) / w.per_line;
  w.cell = std::min(available / w.per_line, base_cell * 3);  // a short text: larger cells, not a stretched line
  const double base_row = st.px(detail >= 0 ? kDetailRowPt : kOverviewRowPt);
  w.row_height = std::clamp(w.cell * 0.9, base_row, base_row * 3);
  const double char_pt = std::min(st.char_pt * w.cell / base_cell, st.text_pt * 1.2);
  w.strip = st.px(char_pt) * 1.35;
  w.gap = st.px(2.5);
  w.legend = st.px(2) + legend(nullptr, trace_, detail, 0, 0, width - st.px(4), st, device);
  return w;
}

double RoutingFigure::heightForWidth(double width, const FigureStyle& style) const {
  return std::ceil(layout(width, style).height());
}

QSizeF RoutingFigure::naturalSize() const {
  const double width = kPageWidthCm / kCmPerInch * 96;
  return {width, heightForWidth(width, FigureStyle::screen())};
}

void RoutingFigure::paint(QPainter& p, const QRectF& target, const FigureStyle& st) const {
  p.save();
  p.setRenderHint(QPainter::Antialiasing, false);  // cells abut exactly
  p.setRenderHint(QPainter::TextAntialiasing);
  p.fillRect(target, st.background);
  p.translate(target.topLeft());
  const WrappedRouting w = layout(target.width(), st, p.device());
  const QFont title_font = st.font(st.title_pt, true), text_font = st.font(st.text_pt);
  const QFontMetricsF title(title_font, p.device()), text(text_font, p.device());
  double y = st.px(4);
  p.setPen(st.foreground);
  p.setFont(title_font);
  p.drawText(QRectF(st.px(2), y, target.width() - st.px(4), title.height()), Qt::AlignLeft | Qt::AlignVCenter,
             title.elidedText(view_.title, Qt::ElideRight, target.width() - st.px(4)));
  y += title.height();
  if (!view_.subtitle.isEmpty()) {
    p.setFont(text_font);
    p.setPen(st.muted);
    p.drawText(QRectF(st.px(2), y, target.width() - st.px(4), text.height()), Qt::AlignLeft | Qt::AlignVCenter,
               text.elidedText(view_.subtitle, Qt::ElideRight, target.width() - st.px(4)));
  }
  if (trace_.empty()) {
    p.setPen(st.muted);
    p.setFont(text_font);
    p.drawText(QRectF(st.px(2), w.header, target.width() - st.px(4), w.legend), Qt::AlignLeft | Qt::TextWordWrap,
               !trace_.routing ? "Dense model: no routing." : "No routing trace.");
    p.restore();
    return;
  }
  const int detail = shown_detail_layer(trace_, view_);
  const double base_cell = st.px(st.char_pt) * 0.602 * 1.3;
  const QFont mono = st.mono(std::min(st.char_pt * w.cell / base_cell, st.text_pt * 1.2));
  for (int line = 0; line < w.lines; ++line) {
    const double top = w.header + line * w.lineHeight();
    const int first = line * w.per_line, last = std::min(trace_.length(), first + w.per_line);
    for (int c = first; c < last; ++c)
      paint_column(p, trace_, detail, c, w.gutter + (c - first) * w.cell, top, w.cell, w.row_height, st);
    p.setRenderHint(QPainter::Antialiasing);
    paint_row_labels(p, trace_, detail, w.gutter, top, w.row_height, st, true);
    p.setFont(mono);
    for (int c = first; c < last; ++c)
      paint_char(p, trace_, c, QRectF(w.gutter + (c - first) * w.cell, top + w.rows * w.row_height, w.cell, w.strip), st);
    p.setRenderHint(QPainter::Antialiasing, false);
  }
  p.setRenderHint(QPainter::Antialiasing);
  legend(&p, trace_, detail, st.px(2), w.header + w.lines * w.lineHeight() + st.px(2), target.width() - st.px(4), st,
         p.device());
  p.restore();
}

QString RoutingFigure::csv() const {
  QString out = QString("# routing trace of %1 characters, routing mode %2, step %3\n"
                        "# probability: router softmax p (sigmoid: gate sigma(z); hash: 1 for the fixed expert)\n"
                        "# chosen: the router picked this expert; weight: combine weight applied (0 when dropped); "
                        "dropped: capacity refused the assignment\n"
                        "position,character,layer,expert,probability,chosen,weight,dropped\n")
                    .arg(trace_.length())
                    .arg(QString::fromStdString(trace_.routing_name()))
                    .arg(trace_.step);
  for (int t = 0; t < trace_.length(); ++t) {
    const QString quoted = csv_cell(visible_char(trace_.text[static_cast<size_t>(t)]));
    for (size_t l = 0; l < trace_.layers.size(); ++l) {
      const LayerTrace& layer = trace_.layers[l];
      for (int e = 0; e < layer.n_experts; ++e) {
        int chosen = 0, dropped = 0;
        double weight = 0;
        for (int s = 0; s < layer.slots; ++s) {
          if (layer.chosen_at(t, s) != e) continue;
          chosen = 1, dropped = layer.dropped_at(t, s), weight = layer.weight_at(t, s);
        }
        out += QString("%1,%2,%3,%4,%5,%6,%7,%8\n")
                   .arg(t)
                   .arg(quoted)
                   .arg(l)
                   .arg(e)
                   .arg(layer.prob(t, e), 0, 'g', 9)
                   .arg(chosen)
                   .arg(weight, 0, 'g', 9)
                   .arg(dropped);
      }
    }
  }
  return out;
}

QString RoutingFigure::json() const { return QString::fromStdString(trace_.to_json()); }

}  // namespace moewb
