#include "ui/render/plot_chart.h"

#include <QCategoryAxis>
#include <QChart>
#include <QFontMetricsF>
#include <QGraphicsLayout>
#include <QGraphicsSimpleTextItem>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QPen>

#include <algorithm>
#include <cmath>
#include <functional>

#include "ui/render/palette.h"
#include "ui/render/series_decimation.h"

namespace moewb {

namespace {

constexpr double kXTickSpacing = 110;  // logical pixels between x ticks to aim at
constexpr double kYTickSpacing = 48;
constexpr int kMaxLegendEntries = 20;  // more series (experts) are summarised in one line under the title
constexpr double kMostLegendShare = 0.3;  // of the chart's height, else the legend is summarised too

QString with_multiplier(const QString& title, const QString& multiplier) {
  return multiplier.isEmpty() ? title : QString("%1 (%2)").arg(title, multiplier);
}

double widest(const QFontMetricsF& m, const std::vector<QString>& labels) {
  double w = 0;
  for (const auto& l : labels) w = std::max(w, m.horizontalAdvance(l));
  return w;
}

// The axis's value for a data y: log10 on a log axis, where the axis is linear in it.
double axis_y(const PlotSpec& spec, double y) { return spec.log_y ? std::log10(y) : y; }

// The axis's range and its ticks as categories ending at the tick values; the categories are rebuilt only when
// the ticks changed (each change lays the chart out again).
void set_categories(QCategoryAxis* axis, const AxisTicks& ticks, double lo, double hi,
                    const std::function<double(double)>& to_axis) {
  axis->setRange(lo, hi);
  const QStringList labels(ticks.labels.begin(), ticks.labels.end());
  bool same = axis->categoriesLabels() == labels;
  for (size_t i = 0; same && i < ticks.values.size(); ++i)
    same = axis->endValue(labels[static_cast<qsizetype>(i)]) == to_axis(ticks.values[i]);
  if (same) {
    // the first category starts at the axis's low end, where Qt draws a tick and a grid line too
    if (!labels.isEmpty() && axis->startValue(labels.front()) != lo) axis->setStartValue(lo);
    return;
  }
  for (const QString& label : axis->categoriesLabels()) axis->remove(label);
  axis->setStartValue(lo);
  for (size_t i = 0; i < ticks.values.size(); ++i) axis->append(ticks.labels[i], to_axis(ticks.values[i]));
}

// The drawable runs of a series' points: a point that cannot be drawn (not finite, not positive on a log axis)
// breaks the line, as a gap in the data should.
std::vector<QList<QPointF>> segments(const PlotSpec& spec, const PlotSeries& series) {
  const bool whole = !spec.log_y && std::all_of(series.points.begin(), series.points.end(),
                                                [&](const QPointF& p) { return plot_shows(spec, p); });
  if (whole) return {series.points};  // shared, not copied: the common case of a long run
  std::vector<QList<QPointF>> out(1);
  for (const QPointF& p : series.points) {
    if (!plot_shows(spec, p)) {
      if (!out.back().isEmpty()) out.emplace_back();
      continue;
    }
    out.back() << QPointF(p.x(), axis_y(spec, p.y()));
  }
  if (out.size() > 1 && out.back().isEmpty()) out.pop_back();
  return out;
}

// A legend label's lines of at most `room` pixels, broken after a space, '-', '_' or '/' where one fits.
QStringList wrapped_lines(const QString& name, const QFontMetricsF& m, double room) {
  QStringList lines;
  QString rest = name;
  while (m.horizontalAdvance(rest) > room && rest.size() > 1) {
    int fit = 1;
    while (fit < rest.size() && m.horizontalAdvance(rest.left(fit + 1)) <= room) ++fit;
    int cut = fit;
    while (cut > fit / 2 && !QString(" -_/").contains(rest[cut - 1])) --cut;
    if (cut <= fit / 2) cut = fit;
    lines << rest.left(cut).trimmed();
    rest = rest.mid(cut);
  }
  lines << rest.trimmed();
  return lines;
}

// The lines as legend HTML, the first padded with no-break spaces to `width` pixels (to within a space), and
// empty lines added up to `count`.
QString padded_label(const QStringList& lines, const QFontMetricsF& m, double width, qsizetype count) {
  double longest = 0;
  for (const QString& l : lines) longest = std::max(longest, m.horizontalAdvance(l));
  const int spaces = static_cast<int>(std::floor((width - longest) / m.horizontalAdvance(QChar(0x00A0))));
  QStringList html;
  for (const QString& l : lines) html << l.toHtmlEscaped();
  html.front() += QString("&nbsp;").repeated(std::max(0, spaces));
  while (html.size() < count) html << "&nbsp;";
  return html.join("<br>");
}

QString html_title(const PlotSpec& spec, const FigureStyle& st, const QString& note) {
  QString html = QString("<b>%1</b>").arg(spec.title.toHtmlEscaped());
  const QString line = QString("<br><span style=\"font-size:%1pt; font-weight:normal; color:%2\">%3</span>")
                           .arg(st.text_pt)
                           .arg(st.muted.name());
  if (!spec.subtitle.isEmpty()) html += line.arg(spec.subtitle.toHtmlEscaped());
  if (!note.isEmpty()) html += line.arg(note.toHtmlEscaped());
  return html;
}

// How far the widest marker reaches beyond its point, in logical pixels (as setSeries() sizes it, the pen
// around it, a pixel of antialiasing); 0 without markers. Qt clips series to the plot area, so the x axis leaves
// this much room at both ends: a point there keeps its whole marker.
double marker_reach(const PlotSpec& spec, const FigureStyle& st) {
  double reach = 0;
  for (const auto& s : spec.series)
    if (s.markers) reach = std::max(reach, (st.px(st.line_pt) * 1.5 + st.px(st.line_pt) * s.weight * 0.75) / 2 + 1);
  return std::ceil(reach);
}

void style_axis(QCategoryAxis* axis, const FigureStyle& st) {
  axis->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
  axis->setLabelsFont(st.font(st.text_pt));
  axis->setLabelsColor(st.foreground);
  axis->setTitleFont(st.font(st.label_pt));
  axis->setTitleBrush(st.foreground);
  axis->setLinePen(QPen(st.foreground, st.px(st.axis_pt) * 0.75));
  axis->setGridLinePen(QPen(st.grid_color, st.px(st.axis_pt) * 0.75));
  axis->setGridLineVisible(st.grid);
  axis->setMinorGridLineVisible(false);
  axis->setShadesVisible(false);
}

}  // namespace

PlotChart::PlotChart(QChart* chart)
    : chart_(chart), x_axis_(new QCategoryAxis), y_axis_(new QCategoryAxis), empty_(new QGraphicsSimpleTextItem(chart)) {
  chart_->setAnimationOptions(QChart::NoAnimation);
  chart_->setBackgroundRoundness(0);
  chart_->setDropShadowEnabled(false);
  chart_->setBackgroundPen(Qt::NoPen);
  chart_->setPlotAreaBackgroundVisible(false);
  chart_->layout()->setContentsMargins(0, 0, 0, 0);
  // Attached under a chart, Qt's legend keeps one row and elides every label to fit it ("2026120…" for run
  // names, "E…" for 16 experts). Detached, it wraps its entries into rows inside the rectangle it is given, so
  // placeLegend() gives it a band under the axis title and the chart a bottom margin of that height.
  chart_->legend()->detachFromChart();
  chart_->legend()->setAlignment(Qt::AlignTop);  // detached, it fills rows from the top of its rectangle
  chart_->legend()->setBackgroundVisible(false);
  chart_->legend()->setContentsMargins(0, 0, 0, 0);
  chart_->addAxis(x_axis_, Qt::AlignBottom);
  chart_->addAxis(y_axis_, Qt::AlignLeft);
  empty_->setZValue(10);
}

void PlotChart::styleChart(const PlotSpec& spec, const FigureStyle& st) {
  // the legend itself stays shown (Qt applies its visibility only on the next event loop pass, too late for
  // placeLegend()); its markers are what setSeries() and placeLegend() show or hide
  legend_ = spec.legend && spec.series.size() >= 2 && spec.series.size() <= kMaxLegendEntries;
  // fonts and pens set again lay the chart out again: only when the style changes (a theme switch)
  const QString key = QStringList{st.name, st.background.name(QColor::HexArgb), st.foreground.name(),
                                  st.muted.name(), st.grid_color.name(), spec.empty_message}
                          .join('|');
  if (key == style_key_) return;
  style_key_ = key;
  chart_->setBackgroundBrush(st.background);
  chart_->setTitleFont(st.font(st.title_pt, true));
  chart_->setTitleBrush(st.foreground);
  QLegend* legend = chart_->legend();
  legend->setFont(st.font(st.text_pt));
  legend->setLabelColor(st.foreground);
  style_axis(x_axis_, st);
  style_axis(y_axis_, st);
  empty_->setFont(st.font(st.text_pt));
  empty_->setBrush(st.muted);
  empty_->setText(spec.empty_message);
}

QLineSeries* PlotChart::addSegment(Line& line) {
  auto* s = new QLineSeries;
  s->setName(line.name);
  chart_->addSeries(s);
  s->attachAxis(x_axis_);
  s->attachAxis(y_axis_);
  if (!line.segments.empty())  // the legend names a series once, on its first segment
    for (QLegendMarker* m : chart_->legend()->markers(s)) m->setVisible(false);
  line.segments.push_back(s);
  return s;
}

void PlotChart::setSeries(const PlotSpec& spec, const FigureStyle& st, const PlotRange& r, int columns) {
  bool same = lines_.size() == static_cast<size_t>(spec.series.size());
  for (size_t i = 0; same && i < lines_.size(); ++i) same = lines_[i].name == spec.series[static_cast<qsizetype>(i)].name;
  if (!same) {
    chart_->removeAllSeries();
    lines_.clear();
    for (const auto& s : spec.series) lines_.push_back({s.name, {}});
  }
  for (size_t i = 0; i < lines_.size(); ++i) {
    const PlotSeries& series = spec.series[static_cast<qsizetype>(i)];
    Line& line = lines_[i];
    const auto runs = segments(spec, series);
    while (line.segments.size() < runs.size()) addSegment(line);
    while (line.segments.size() > runs.size()) {
      chart_->removeSeries(line.segments.back());
      delete line.segments.back();
      line.segments.pop_back();
    }
    const QColor color = readable_on(series.color, st.background);
    QPen pen(color, st.px(st.line_pt) * series.weight * 0.75);
    pen.setJoinStyle(Qt::RoundJoin);
    pen.setCapStyle(Qt::RoundCap);
    for (size_t k = 0; k < runs.size(); ++k) {
      QLineSeries* s = line.segments[k];
      s->setPen(pen);
      s->setColor(color);
      s->setBrush(color);
      s->setPointsVisible(series.markers);
      s->setMarkerSize(st.px(st.line_pt) * 1.5);  // Qt adds the pen width around it
      s->replace(decimate_for_columns(runs[k], r.x0, r.x1, columns));
    }
  }
  // Markers in the legend follow the series colour (the legend caches it from the first pen it saw). Labels
  // are padded to one width and one number of lines: Qt wraps a detached legend's row when the item just placed
  // would not fit again, and moves down by that item's height, which is exact only for items of one size (a
  // long name after a short one would cross the edge, a two-line name overlap the next row). A name wider than
  // half the legend continues on further lines rather than being elided.
  const QFontMetricsF text(st.font(st.text_pt), layout_device());
  const double room = std::max(text.horizontalAdvance("MMMMMM"), chart_->size().width() / 2 - st.px(40));
  std::vector<QStringList> labels;
  double widest = 0;
  qsizetype most_lines = 1;
  for (const Line& line : lines_) {
    labels.push_back(wrapped_lines(line.name, text, room));
    for (const QString& l : labels.back()) widest = std::max(widest, text.horizontalAdvance(l));
    most_lines = std::max(most_lines, labels.back().size());
  }
  for (size_t i = 0; i < lines_.size(); ++i)
    for (QLegendMarker* m : chart_->legend()->markers(lines_[i].segments.front())) {
      m->setBrush(lines_[i].segments.front()->color());
      m->setPen(Qt::NoPen);
      m->setLabelBrush(st.foreground);
      const QString label = padded_label(labels[i], text, widest, most_lines);
      if (m->label() != label) m->setLabel(label);
      m->setVisible(legend_);
    }
}

// The legend's rows, as Qt wraps them in the width it is given, measured by letting it lay them out in a band as
// tall as the chart first; the chart then keeps a band of their height free under the axis title. Rows that
// would take more than kMostLegendShare of the chart (many experts on a small figure) give way to one line under
// the title, as more than twenty series always do.
void PlotChart::placeLegend(const PlotSpec& spec, const FigureStyle& st) {
  const double pad = std::round(st.px(5));
  const double right = pad + std::round(st.px(6));  // room for the last x label's half
  QLegend* legend = chart_->legend();
  double band = 0;
  // measuring the rows lays the legend out twice: only when its entries or the chart's size changed
  QString key = QString("%1x%2").arg(chart_->size().width()).arg(chart_->size().height());
  if (legend_)
    for (const QLegendMarker* m : legend->markers()) key += '|' + m->label() + (m->isVisible() ? "+" : "-");
  if (key == legend_key_) {
    legend_ = legend_shown_;
    band = legend_band_;
    if (!legend_)
      for (QLegendMarker* m : legend->markers()) m->setVisible(false);
  } else if (legend_) {
    const double width = chart_->size().width() - 2 * pad;
    legend->setGeometry(QRectF(pad, 0, width, chart_->size().height()));
    QRectF rows;
    for (const QGraphicsItem* group : legend->childItems())
      for (const QGraphicsItem* item : group->childItems())
        if (item->isVisible()) rows |= item->mapRectToItem(legend, item->boundingRect());
    band = std::ceil(rows.bottom());  // from the legend's top: Qt insets its rows
    if (band > chart_->size().height() * kMostLegendShare) {
      legend_ = false;
      for (QLegendMarker* m : legend->markers()) m->setVisible(false);
      band = 0;
    } else {
      legend->setGeometry(QRectF(pad, chart_->size().height() - pad - band, width, band));
      band += pad;
    }
  }
  legend_key_ = key, legend_shown_ = legend_, legend_band_ = band;
  const bool summarised = spec.legend && spec.series.size() >= 2 && !legend_;
  const QString note = summarised ? QString("%1 series: %2 … %3, one colour each")
                                        .arg(spec.series.size())
                                        .arg(spec.series.front().name, spec.series.back().name)
                                  : QString();
  const QString title = html_title(spec, st, note);
  if (chart_->title() != title) chart_->setTitle(title);
  chart_->setMargins(QMargins(static_cast<int>(pad), static_cast<int>(pad), static_cast<int>(right),
                              static_cast<int>(pad + band)));
}

// Ranges and ticks for the data area the chart lays out.
void PlotChart::setTicks(const PlotSpec& spec, const FigureStyle& st, const PlotRange& r) {
  const QFontMetricsF text(st.font(st.text_pt), layout_device());
  layout_.x0 = r.x0, layout_.x1 = r.x1, layout_.y0 = r.y0, layout_.y1 = r.y1, layout_.log_y = spec.log_y;
  const auto to_y = [&](double v) { return axis_y(spec, v); };
  const auto identity = [](double v) { return v; };
  const double reach = marker_reach(spec, st);
  // the ticks change the labels' width, hence the data area: a second pass ticks the area they left
  for (int pass = 0; pass < 2; ++pass) {
    QRectF area = chart_->plotArea();
    if (area.width() < 10 || area.height() < 10) area = QRectF(QPointF(), chart_->size()).adjusted(60, 40, -10, -60);
    const double height = std::max(10.0, area.height()), width = std::max(10.0, area.width() - 2 * reach);
    const int y_target = tick_target(height, kYTickSpacing);
    layout_.y_ticks = spec.log_y ? log_ticks(r.y0, r.y1, y_target) : linear_ticks(r.y0, r.y1, y_target);
    for (int most = static_cast<int>(layout_.y_ticks.values.size()) - 1;
         !spec.log_y && most >= 2 && layout_.y_ticks.values.size() * text.height() * 1.05 > height; --most)
      layout_.y_ticks = linear_ticks(r.y0, r.y1, y_target, most);
    const int x_target = tick_target(width, kXTickSpacing);
    layout_.x_ticks = linear_ticks(r.x0, r.x1, x_target);
    for (int most = static_cast<int>(layout_.x_ticks.values.size()) - 1;
         most >= 2 && layout_.x_ticks.values.size() * (widest(text, layout_.x_ticks.labels) + st.px(4)) > width; --most)
      layout_.x_ticks = linear_ticks(r.x0, r.x1, x_target, most);
    const double margin = reach * (r.x1 - r.x0) / width;
    set_categories(x_axis_, layout_.x_ticks, r.x0 - margin, r.x1 + margin, identity);
    set_categories(y_axis_, layout_.y_ticks, to_y(r.y0), to_y(r.y1), to_y);
    x_axis_->setTitleText(with_multiplier(spec.x_title, layout_.x_ticks.multiplier));
    y_axis_->setTitleText(with_multiplier(spec.y_title, layout_.y_ticks.multiplier));
    chart_->layout()->activate();
    if (chart_->plotArea() == area) break;
  }
  // the data area is where x0..x1 fall, inside the margins the markers need
  const QRectF area = chart_->plotArea();
  const double inset = (r.x0 - x_axis_->min()) / (x_axis_->max() - x_axis_->min()) * area.width();
  layout_.plot = area.adjusted(inset, 0, -inset, 0);
}

void PlotChart::show(const PlotSpec& spec, const FigureStyle& style) {
  styleChart(spec, style);
  const QRectF area = chart_->plotArea();
  const int columns = static_cast<int>(std::ceil(area.width() > 10 ? area.width() : chart_->size().width()));
  const PlotRange range = plot_range(spec);  // one pass over every point, shared by the series and the axes
  setSeries(spec, style, range, std::max(1, columns));
  placeLegend(spec, style);
  setTicks(spec, style, range);
  bool any = false;
  for (const Line& line : lines_)
    for (const QLineSeries* s : line.segments) any = any || s->count() > 0;
  empty_->setVisible(!any);
  const QRectF box = empty_->boundingRect();
  empty_->setPos(layout_.plot.center() - QPointF(box.width() / 2, box.height() / 2));
}

qsizetype PlotChart::drawnPoints(const QString& series) const {
  qsizetype n = 0;
  for (const Line& line : lines_)
    if (line.name == series)
      for (const QLineSeries* s : line.segments) n += s->count();
  return n;
}

}  // namespace moewb
