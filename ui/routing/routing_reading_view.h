// Routing read like text: the traced text wrapped into lines, each character on its top expert's colour in one
// layer (paler = lower weight, grey = every assignment dropped), whitespace made visible. Hover shows the
// heatmap's tooltip; click pins a character (the heatmap follows); arrows move the pin, PgUp / PgDn step the
// layer. "Highlight expert e" keeps the colour only on characters expert e processed.
#pragma once

#include <QAbstractScrollArea>

#include <vector>

#include "core/trace/routing_trace.h"

namespace moewb {

class RoutingReadingView : public QAbstractScrollArea {
  Q_OBJECT

 public:
  explicit RoutingReadingView(QWidget* parent = nullptr);

  void setTrace(const RoutingTrace& trace);
  const RoutingTrace& trace() const { return trace_; }
  void setLayer(int layer);
  // What an empty view says.
  void setPlaceholder(const QString& text);
  int layer() const { return layer_; }
  // -1: every character in its colour; e: only characters expert e processed (chosen and kept).
  void setHighlightedExpert(int expert);
  int highlightedExpert() const { return highlighted_; }
  void setPinned(int position);
  int pinnedPosition() const { return pinned_; }
  void setHovered(int position);
  int hoveredPosition() const { return hovered_; }
  // Scrolls so the character is visible.
  void ensureVisible(int position);

  // Colours the text by how an intervention changed each character's loss instead of by routing: red = worse
  // (higher loss), blue = better, white = unchanged; the scale saturates at the 95th percentile of |change|.
  // Empty vectors return to routing colours.
  void setLossChange(const std::vector<double>& before, const std::vector<double>& after);
  double lossScale() const { return loss_scale_; }

  // What a character is painted with (for tests and the legend): background and whether it is highlighted.
  QColor cellColor(int position) const;
  // The character's cell in viewport coordinates (empty when out of range).
  QRect cellRect(int position) const;
  int positionAt(const QPoint& viewportPoint) const;

 Q_SIGNALS:
  void hovered(int position);
  void pinned(int position);
  void layerStepRequested(int step);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void changeEvent(QEvent* event) override;

 private:
  // Places every character on a line: wraps at the view's width and after each newline.
  void relayout();
  bool processes(int position, int expert) const;

  RoutingTrace trace_;
  int layer_ = 0, highlighted_ = -1, pinned_ = -1, hovered_ = -1;
  int columns_ = 1, cell_w_ = 8, line_h_ = 16;
  std::vector<int> line_of_, column_of_;  // per character
  std::vector<int> line_start_;           // first character of each line
  std::vector<double> loss_before_, loss_after_;
  double loss_scale_ = 1;
  QString placeholder_ = "Trace a text to read its routing here.";
};

}  // namespace moewb
