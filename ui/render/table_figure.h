// A table as a figure (the Runs panel's comparison of runs, the paper's published numbers): a title, a bold
// header row and the rows, numbers right-aligned, light banding; the font shrinks when the columns would not
// fit the width. Data exports as CSV and JSON (Markdown and LaTeX stay with the table's own export).
#pragma once

#include "core/runs/run_summary.h"
#include "ui/render/figure.h"

namespace moewb {

class TableFigure : public Figure {
 public:
  TableFigure(QString name = "table", QString title = {}, Table table = {})
      : name_(std::move(name)), title_(std::move(title)), table_(std::move(table)) {}
  const Table& table() const { return table_; }

  QString name() const override { return name_; }
  QSizeF naturalSize() const override;
  double heightForWidth(double width, const FigureStyle& style) const override;
  void paint(QPainter& p, const QRectF& target, const FigureStyle& style) const override;
  QString csv() const override;
  QString json() const override;

 private:
  QString name_, title_;
  Table table_;
};

}  // namespace moewb
