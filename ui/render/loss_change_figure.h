// An intervention's per-character loss change as a figure (the Intervene tab's coloured text, exported): the
// compared text wrapped like a paragraph — lines break at the width and after each newline — each character on
// white-to-vermillion (its loss rose) or white-to-blue (it fell), saturating at the 95th percentile of |change|,
// with that scale in a colour bar. The data is every character's loss before and after.
#pragma once

#include <string>
#include <vector>

#include "ui/render/figure.h"

namespace moewb {

// The scale of a loss-change colouring: the 95th percentile of |after - before| over the finite changes (1e-3
// at least, 1 when there are none).
double loss_change_scale(const std::vector<double>& before, const std::vector<double>& after);
// White for no change, vermillion (worse) or blue (better) at |delta| >= scale; `background` for a NaN delta.
QColor loss_change_color(double delta, double scale, const QColor& background = Qt::white);

struct LossChange {
  QString title = "Loss change per character";
  QString subtitle;      // the run, the intervention, the overall change
  QString intervention;  // "layer 3: expert 0 disabled" (CSV header and JSON)
  std::u32string text;
  std::vector<double> before, after;  // nats, per character of text (NaN where nothing predicts it)
};

class LossChangeFigure : public Figure {
 public:
  explicit LossChangeFigure(LossChange data = {});
  const LossChange& data() const { return data_; }
  double scale() const { return scale_; }

  QString name() const override { return "loss_change"; }
  QSizeF naturalSize() const override;  // 17 cm wide, height for that width
  double heightForWidth(double width, const FigureStyle& style) const override;
  void paint(QPainter& p, const QRectF& target, const FigureStyle& style) const override;
  QString csv() const override;   // position,character,loss,loss_after,delta (nats)
  QString json() const override;

 private:
  struct Layout {
    double header = 0, cell_w = 0, line_h = 0, legend = 0;
    std::vector<int> line, column;  // per character
    int lines = 0;
  };
  Layout layout(double width, const FigureStyle& style, QPaintDevice* device) const;

  LossChange data_;
  double scale_ = 1;
};

}  // namespace moewb
