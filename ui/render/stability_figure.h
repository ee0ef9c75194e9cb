// The routing-stability heatmap of one layer as a figure: one row per pair of consecutive routing snapshots
// (labelled by their steps), one column per character of the probe text; a cell whose top expert changed
// between the two snapshots is painted in the NEW top expert's colour, an unchanged one pale and neutral, so the
// figure shows both where and to what routing changed. Under the characters, a summary band counts how many
// times each character changed over training. The screen view paints a scrolled, zoomed window of it
// (paint_stability_strip); the exported figure wraps the text into lines like a paragraph (StabilityFigure).
#pragma once

#include <optional>

#include "core/config/config.h"
#include "core/trace/routing_stability.h"
#include "ui/render/figure.h"

class QPaintDevice;

namespace moewb {

// The subtitle of a stability figure of a run: figure_subtitle (run_name.h), the characters and the snapshots
// compared. The Routing tab's export and Export all figures both use it.
QString stability_subtitle(const QString& run, const Config& config, const TopExpertChangeMatrix& matrix);

// What a stability figure shows besides the matrix: title, subtitle (run, routing), the hovered and pinned
// cells of the screen view (row -1 = the summary band).
struct StabilityView {
  QString title = "Routing stability per character";
  QString subtitle;
  QString empty_message;  // what an empty matrix says on screen (why there is nothing to compare)
  int hovered_row = -2, hovered_column = -1;
  int pinned_row = -2, pinned_column = -1;
};

struct StabilityCell {
  int row = 0;  // a snapshot pair, or -1 for the summary band
  int column = 0;
  bool operator==(const StabilityCell& o) const { return row == o.row && column == o.column; }
};

// Where the screen view draws each cell and which cell lies under a point: a plain value, tested directly.
// Rows scroll vertically inside a band of grid_height; the characters, the summary band and the legend stay
// below it.
struct StabilityGeometry {
  double cell_width = 14;   // pixels per character (the zoom)
  double row_height = 16;
  double left = 96;         // row labels
  double top = 4;
  double grid_height = 0;   // visible height of the rows
  double strip = 12;        // characters
  double summary = 16;      // changes per character
  double scroll_x = 0, scroll_y = 0;
  int rows = 0, columns = 0;

  double gridBottom() const { return top + grid_height; }
  double summaryTop() const { return gridBottom() + strip; }
  double contentHeight() const { return rows * row_height; }
  QRectF cellRect(int row, int column) const;  // row -1: the summary band
  std::optional<StabilityCell> cellAt(const QPointF& p) const;
  std::optional<int> columnAt(double x) const;
  std::pair<int, int> visibleColumns(double viewportWidth) const;
  std::pair<int, int> visibleRows() const;
};

// A cell's colour: the new top expert's when it changed (grey when capacity dropped every assignment), pale and
// neutral when unchanged; readable on `background`.
QColor stability_cell_color(const TopExpertChangeMatrix& m, int row, int column, const QColor& background = Qt::white);
// "250 → 500"; with share, "250 → 500 · 62 %".
QString stability_row_label(const TopExpertChangeMatrix& m, int row, bool share);
// What a cell says: steps, the character in its context, old → new top expert. row -1: the character's changes
// over training. HTML for tooltips, plain text for the view's status line.
QString stability_cell_text(const TopExpertChangeMatrix& m, int row, int column, bool html);
// Width of the row labels of the screen view, and the height of its legend (swatches only) at a width.
double stability_label_width(const TopExpertChangeMatrix& m, const FigureStyle& style, QPaintDevice* device);
double stability_legend_height(const TopExpertChangeMatrix& m, double width, const FigureStyle& style,
                               QPaintDevice* device);
// The screen view: the cells of g inside target, the row labels, characters, summary band and legend.
void paint_stability_strip(QPainter& p, const QRectF& target, const TopExpertChangeMatrix& m,
                           const StabilityGeometry& g, const StabilityView& view, const FigureStyle& style);

// The wrapped layout of the whole matrix at a width: characters per line, cell size, line height.
struct WrappedStability {
  int per_line = 1, lines = 0, rows = 0;
  double cell = 0, row_height = 0, gutter = 0, strip = 0, summary = 0, gap = 0;
  double header = 0, legend = 0;
  double lineHeight() const { return rows * row_height + strip + summary + gap; }
  double height() const { return header + lines * lineHeight() + legend; }
};

class StabilityFigure : public Figure {
 public:
  StabilityFigure(TopExpertChangeMatrix matrix = {}, StabilityView view = {})
      : matrix_(std::move(matrix)), view_(std::move(view)) {}
  const TopExpertChangeMatrix& matrix() const { return matrix_; }
  const StabilityView& view() const { return view_; }

  QString name() const override { return QString("routing_stability_L%1").arg(matrix_.layer); }
  QSizeF naturalSize() const override;  // 17 cm wide (an A4 text column), height for that width
  double heightForWidth(double width, const FigureStyle& style) const override;
  void paint(QPainter& p, const QRectF& target, const FigureStyle& style) const override;
  // step_before, step_after, position, character, old_expert, new_expert, changed: one row per cell
  QString csv() const override;
  QString json() const override;

  WrappedStability layout(double width, const FigureStyle& style, QPaintDevice* device = nullptr) const;

 private:
  TopExpertChangeMatrix matrix_;
  StabilityView view_;
};

}  // namespace moewb
