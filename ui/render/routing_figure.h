// Routing heatmaps as figures. The on-screen view paints one line of the text, scrolled and zoomed
// (paint_routing_strip); an exported figure wraps the text into lines like a paragraph, each line with its
// per-layer (or per-expert) bands (RoutingFigure), so a 2,000-character trace fits an A4 page. Both use the
// same cell, character and legend painters.
#pragma once

#include "core/config/config.h"
#include "core/trace/routing_trace.h"
#include "ui/render/figure.h"
#include "ui/render/heatmap_geometry.h"

class QPaintDevice;

namespace moewb {

// What a routing figure shows of a trace: all layers (detail_layer -1) or one layer's experts, the hovered
// and pinned columns (screen only), and the title and subtitle naming text, run and step.
struct RoutingView {
  int detail_layer = -1;
  int hovered = -1, pinned = -1;
  QString title = "Routing";
  QString subtitle;
};

// The subtitle of a figure of one trace of a run: figure_subtitle (run_name.h) with the trace's step and whether
// capacity was applied to it. The views' exports and Export all figures both use it.
QString trace_subtitle(const QString& run, const Config& config, const RoutingTrace& trace);

// The layer whose experts are shown, or -1 for every layer (also when detail_layer is out of range).
int shown_detail_layer(const RoutingTrace& trace, const RoutingView& view);
// A character's colour in a layer: its top expert's colour, paler as that expert's weight falls; light grey when
// capacity dropped every assignment; readable on `background`. The heatmap's overview and the reading view
// share it.
QColor routing_cell_color(const LayerTrace& layer, int position, const QColor& background = Qt::white);
// Height of the legend under a routing heatmap of this width.
double routing_legend_height(const RoutingTrace& trace, const RoutingView& view, double width, const FigureStyle& style,
                             QPaintDevice* device);
// Height of the character strip under the grid of the screen view for this cell width.
double routing_char_strip_height(double cell_width, const FigureStyle& style);
// The screen view: the columns of g that fall inside target, the row labels, characters and legend.
void paint_routing_strip(QPainter& p, const QRectF& target, const RoutingTrace& trace, const HeatmapGeometry& g,
                         const RoutingView& view, const FigureStyle& style);

// The wrapped layout of a whole trace at a width: characters per line, cell size, line height.
struct WrappedRouting {
  int per_line = 1, lines = 0, rows = 0;
  double cell = 0, row_height = 0, gutter = 0, strip = 0, gap = 0;
  double header = 0, legend = 0;
  double lineHeight() const { return rows * row_height + strip + gap; }
  double height() const { return header + lines * lineHeight() + legend; }
};

class RoutingFigure : public Figure {
 public:
  RoutingFigure(RoutingTrace trace = {}, RoutingView view = {}) : trace_(std::move(trace)), view_(std::move(view)) {}
  const RoutingTrace& trace() const { return trace_; }
  const RoutingView& view() const { return view_; }

  QString name() const override;
  QSizeF naturalSize() const override;  // 17 cm wide (an A4 text column), height for that width
  double heightForWidth(double width, const FigureStyle& style) const override;
  void paint(QPainter& p, const QRectF& target, const FigureStyle& style) const override;
  QString csv() const override;
  QString json() const override;

  WrappedRouting layout(double width, const FigureStyle& style, QPaintDevice* device = nullptr) const;

 private:
  RoutingTrace trace_;
  RoutingView view_;
};

}  // namespace moewb
