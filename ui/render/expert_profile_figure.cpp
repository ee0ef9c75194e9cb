#include "ui/render/expert_profile_figure.h"

#include <QFontMetricsF>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QPainter>

#include <algorithm>
#include <charconv>

#include "ui/render/palette.h"
#include "ui/render/plot_figure.h"
#include "ui/render/routing_text.h"

namespace moewb {

ExpertProfile ExpertProfile::of(const RoutingCounts& counts, int layer, int expert, int top_characters) {
  ExpertProfile p;
  p.layer = layer, p.expert = expert, p.n_experts = counts.experts();
  p.assignments = counts.expert_assignments(layer, expert);
  p.layer_assignments = counts.layer_assignments(layer);
  p.characters = counts.characters();
  p.top_characters = counts.top_characters(layer, expert, top_characters);
  p.windows = counts.top_windows(layer, expert);
  return p;
}

namespace {

// The windows' column in advances of its monospace font: rank, the window, the probability; the font is at most
// kWindowScale times the text size.
constexpr double kWindowColumnAdvances = 4 + RoutingCounts::kWindowLength + 0.8 + 7.3;
constexpr double kWindowScale = 1.2;

QString visible(const std::u32string& text) {
  QString out;
  for (char32_t c : text) out += visible_char(c);
  return out;
}

// The shortest text that reads back as the same float ("0.1", not "0.100000001").
QString shortest(float v) {
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;
  return QString::fromLatin1(buffer, static_cast<int>(end - buffer));
}

QString percent(double share) { return QString("%1 %").arg(100 * share, 0, 'f', share < 0.1 ? 2 : 1); }

// A column's heading, elided to its width; returns its height.
double heading(QPainter& p, const QRectF& at, const QString& text, const FigureStyle& st) {
  const QFont font = st.font(st.label_pt, true);
  const QFontMetricsF m(font, p.device());
  p.setFont(font);
  p.setPen(st.foreground);
  p.drawText(QRectF(at.left(), at.top(), at.width(), m.height()), Qt::AlignLeft | Qt::AlignVCenter,
             m.elidedText(text, Qt::ElideRight, at.width()));
  return m.height() * 1.3;
}

// What a column says for an expert nothing was assigned to.
void paint_no_assignments(QPainter& p, const QRectF& area, double top, const FigureStyle& st) {
  p.setFont(st.font(st.text_pt));
  p.setPen(st.muted);
  p.drawText(QRectF(area.left(), top, area.width(), area.bottom() - top), Qt::AlignLeft | Qt::AlignTop,
             "no assignments");
}

void paint_bars(QPainter& p, const QRectF& area, const ExpertProfile& e, const FigureStyle& st) {
  const double top = area.top() + heading(p, area, "Top characters", st);
  const int rows = static_cast<int>(e.top_characters.size());
  if (rows == 0) return paint_no_assignments(p, area, top, st);
  const QFont base = st.font(st.text_pt);
  const QFontMetricsF bm(base, p.device());
  const double row_h = std::min(bm.height() * 1.45, (area.bottom() - top) / rows);
  const QFont font = st.font(std::min(st.text_pt, row_h / kPxPerPt * 0.78));
  const QFontMetricsF m(font, p.device());
  p.setFont(font);
  const double label_w = m.horizontalAdvance("'W'") + st.px(2), value_w = m.horizontalAdvance("100.0 %") + st.px(3);
  const double bar_x = area.left() + label_w + st.px(2), bar_w = std::max(1.0, area.right() - bar_x - value_w);
  double most = 0;
  for (const auto& [c, share] : e.top_characters) most = std::max(most, share);
  const QColor color = expert_color(e.expert, st.background);
  for (int r = 0; r < rows; ++r) {
    const auto& [c, share] = e.top_characters[static_cast<size_t>(r)];
    const double y = top + r * row_h;
    p.setPen(st.foreground);
    p.drawText(QRectF(area.left(), y, label_w, row_h), Qt::AlignRight | Qt::AlignVCenter,
               QString("'%1'").arg(visible_char(c)));
    const double w = most > 0 ? bar_w * share / most : 0;
    p.fillRect(QRectF(bar_x, y + row_h * 0.15, w, row_h * 0.7), color);
    p.drawText(QRectF(bar_x + w + st.px(2), y, value_w, row_h), Qt::AlignLeft | Qt::AlignVCenter, percent(share));
  }
}

void paint_windows(QPainter& p, const QRectF& area, const ExpertProfile& e, const FigureStyle& st) {
  const double top = area.top() + heading(p, area, "Most confidently routed", st);
  const int rows = static_cast<int>(e.windows.size());
  if (rows == 0) return paint_no_assignments(p, area, top, st);
  const QFontMetricsF bm(st.mono(st.text_pt), p.device());
  const double row_h = std::min(bm.height() * 1.3, (area.bottom() - top) / rows);
  // the widest font at which rank, 20 characters and the probability fit the column and the row
  const QFont probe = st.mono(10);
  const QFontMetricsF pm(probe, p.device());
  const double fit_pt = 10 * area.width() / (kWindowColumnAdvances * pm.horizontalAdvance('M') * 1.02);
  const QFont mono = st.mono(std::min({st.text_pt * kWindowScale, row_h / kPxPerPt * 0.8, fit_pt}));
  const QFontMetricsF m(mono, p.device());
  const double advance = m.horizontalAdvance('M');
  const QFont small = st.font(std::min(st.text_pt, row_h / kPxPerPt * 0.75));
  const double rank_w = advance * 4, prob_w = advance * 7.3;
  const double window_right = area.left() + rank_w + advance * RoutingCounts::kWindowLength;
  const QColor color = expert_color(e.expert, st.background);
  const QColor on_color =
      contrast_ratio(color, Qt::black) >= contrast_ratio(color, Qt::white) ? QColor(Qt::black) : QColor(Qt::white);
  for (int r = 0; r < rows; ++r) {
    const RoutedWindow& w = e.windows[static_cast<size_t>(r)];
    const double y = top + r * row_h;
    p.setFont(small);
    p.setPen(st.muted);
    p.drawText(QRectF(area.left(), y, rank_w - advance * 0.5, row_h), Qt::AlignRight | Qt::AlignVCenter,
               QString::number(r + 1));
    // aligned on the routed character, like a concordance: earlier text to its left
    p.setFont(mono);
    const int n = static_cast<int>(w.window.size());
    for (int i = 0; i < n; ++i) {
      const QRectF cell(window_right - (n - i) * advance, y, advance, row_h);
      const char32_t c = w.window[static_cast<size_t>(i)];
      const bool routed = i == n - 1;
      const bool whitespace = c == U' ' || c == U'\n' || c == U'\t';
      if (routed) p.fillRect(cell.adjusted(0, row_h * 0.06, 0, -row_h * 0.06), color);
      p.setPen(routed ? on_color : whitespace ? st.muted : st.foreground);
      p.drawText(cell, Qt::AlignCenter, visible_char(c));
    }
    p.setFont(small);
    p.setPen(st.foreground);
    p.drawText(QRectF(window_right + advance * 0.8, y, prob_w, row_h), Qt::AlignLeft | Qt::AlignVCenter,
               QString::number(w.probability, 'f', 3));
  }
}

PlotSpec load_spec(const ExpertProfile& e) {
  PlotSpec s;
  s.name = "expert_load";
  s.title = "Load over training";
  s.y_title = "load share fᵢ";
  s.y_description = "share of the layer's router assignments going to the expert, at each evaluation";
  s.empty_message = "no training history";
  double most = e.n_experts > 0 ? 1.0 / e.n_experts : 0;
  for (const QPointF& pt : e.load) most = std::max(most, pt.y());
  s.y_range = std::make_pair(0.0, std::max(0.05, most * 1.15));
  PlotSeries mine{QString("E%1").arg(e.expert), expert_color(e.expert), 1.3, e.load.size() < 30, e.load};
  s.series << mine;
  if (e.n_experts > 0 && !e.load.isEmpty()) {
    const double even = 1.0 / e.n_experts;
    s.series << PlotSeries{"balanced (1/N)", series_color::neutral, 0.6, false,
                           {QPointF(e.load.front().x(), even), QPointF(e.load.back().x(), even)}};
  }
  return s;
}

}  // namespace

void ExpertProfileFigure::paint(QPainter& p, const QRectF& target, const FigureStyle& st) const {
  p.save();
  p.setRenderHint(QPainter::Antialiasing);
  p.setRenderHint(QPainter::TextAntialiasing);
  p.fillRect(target, st.background);
  const ExpertProfile& e = profile_;
  const QFont title_font = st.font(st.title_pt, true), text_font = st.font(st.text_pt);
  const QFontMetricsF title(title_font, p.device()), text(text_font, p.device());
  const double pad = st.px(4), width = target.width() - 2 * pad;
  double y = target.top() + pad;
  p.setFont(title_font);
  p.setPen(st.foreground);
  p.drawText(QRectF(target.left() + pad, y, width, title.height()), Qt::AlignLeft | Qt::AlignVCenter,
             title.elidedText(QString("Expert E%1 of layer %2: what it receives").arg(e.expert).arg(e.layer),
                              Qt::ElideRight, width));
  y += title.height();
  QStringList about;
  if (!subtitle_.isEmpty()) about << subtitle_;
  about << QString("%1 of the layer's assignments (%2 of %3)")
               .arg(percent(e.share()))
               .arg(e.assignments)
               .arg(e.layer_assignments);
  p.setFont(text_font);
  p.setPen(st.muted);
  p.drawText(QRectF(target.left() + pad, y, width, text.height()), Qt::AlignLeft | Qt::AlignVCenter,
             text.elidedText(about.join(" · "), Qt::ElideRight, width));
  y += text.height() + pad * 2;
  const QRectF body(target.left() + pad, y, width, target.bottom() - pad - y);
  const double gap = st.px(10);
  // the windows take what they need at their largest font, at most 46 %; the load chart the rest
  const QFontMetricsF mono(st.mono(st.text_pt * kWindowScale), p.device());
  const double bars_w = body.width() * 0.21,
               windows_w = std::min(body.width() * 0.46, kWindowColumnAdvances * mono.horizontalAdvance('M') + gap);
  const QRectF bars(body.left(), body.top(), bars_w - gap, body.height());
  const QRectF windows(bars.right() + gap, body.top(), windows_w - gap, body.height());
  const QRectF load(windows.right() + gap, body.top(), body.right() - windows.right() - gap, body.height());
  paint_bars(p, bars, e, st);
  paint_windows(p, windows, e, st);
  PlotFigure(load_spec(e)).paint(p, load, st);
  p.restore();
}

QString ExpertProfileFigure::csv() const {
  const ExpertProfile& e = profile_;
  QString out = QString("# layer %1, expert E%2 of %3: %4 of the layer's %5 router assignments over %6 counted "
                        "characters (%7). kind=window: its most confidently routed characters (rank 1 first), the "
                        "window of up to %8 characters of text ending at the character (space as ·, newline as ↵, "
                        "tab as ⇥), the router probability of this expert for it and its offset in the counted text; "
                        "kind=character: the characters making up most of its assignments, share of its assignments; "
                        "kind=load: its load share fᵢ (share of the layer's assignments) at an evaluation step\n")
                    .arg(e.layer)
                    .arg(e.expert)
                    .arg(e.n_experts)
                    .arg(e.assignments)
                    .arg(e.layer_assignments)
                    .arg(e.characters)
                    .arg(subtitle_.isEmpty() ? QString("counted text") : subtitle_)
                    .arg(RoutingCounts::kWindowLength);
  out += "kind,layer,expert,rank,window,character,probability,share,position,step\n";
  const QString prefix = QString(",%1,%2,").arg(e.layer).arg(e.expert);
  for (size_t i = 0; i < e.windows.size(); ++i) {
    const RoutedWindow& w = e.windows[i];
    out += "window" + prefix + QString::number(i + 1) + "," + csv_cell(visible(w.window)) + "," +
           csv_cell(visible_char(w.character())) + "," + shortest(w.probability) + ",," +
           QString::number(w.position) + ",\n";
  }
  for (size_t i = 0; i < e.top_characters.size(); ++i)
    out += "character" + prefix + QString::number(i + 1) + ",," + csv_cell(visible_char(e.top_characters[i].first)) +
           ",," + QString::number(e.top_characters[i].second, 'g', QLocale::FloatingPointShortest) + ",,\n";
  for (int i = 0; i < e.load.size(); ++i)
    out += "load" + prefix + QString::number(i + 1) + ",,,," + QString::number(e.load[i].y(), 'g', QLocale::FloatingPointShortest) + ",," +
           QString::number(e.load[i].x(), 'g', QLocale::FloatingPointShortest) + "\n";
  return out;
}

QString ExpertProfileFigure::json() const {
  const ExpertProfile& e = profile_;
  QJsonArray windows, characters, load;
  for (const RoutedWindow& w : e.windows) {
    const char32_t c = w.character();
    windows.append(QJsonObject{{"window", QString::fromStdU32String(w.window)},
                               {"character", QString::fromUcs4(&c, 1)},
                               {"character_offset_in_window", w.offset_in_window()},
                               {"probability", static_cast<double>(w.probability)},
                               {"position", static_cast<double>(w.position)}});
  }
  for (const auto& [c, share] : e.top_characters)
    characters.append(QJsonObject{{"character", QString::fromUcs4(&c, 1)}, {"share", share}});
  for (const QPointF& pt : e.load) load.append(QJsonObject{{"step", pt.x()}, {"load_share", pt.y()}});
  return QString::fromUtf8(
      QJsonDocument(QJsonObject{{"layer", e.layer},
                                {"expert", e.expert},
                                {"experts", e.n_experts},
                                {"about", subtitle_},
                                {"assignments", static_cast<double>(e.assignments)},
                                {"layer_assignments", static_cast<double>(e.layer_assignments)},
                                {"share_of_layer", e.share()},
                                {"characters_counted", static_cast<double>(e.characters)},
                                {"windows_convention", "most confidently routed characters first; the window is the "
                                                       "text ending at the character; probability = router "
                                                       "probability of this expert"},
                                {"windows", windows},
                                {"top_characters", characters},
                                {"load_over_training", load}})
          .toJson());
}

}  // namespace moewb
