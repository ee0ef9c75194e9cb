// What the routing and the stability heatmaps share: a scroll area whose viewport paints a grid with one column
// per character at a zoomable cell width. It owns the zoom (Ctrl+wheel around the character under the cursor),
// the horizontal scrolling (ranges, wheel, bringing a column into view), the export context menu, the tooltip
// beside the hovered cell and the hover kept while that tooltip covers the cursor. Each heatmap keeps its data,
// the figure that paints it (render/), what its rows and cells mean, its keys and the signals that carry them.
#pragma once

#include <QAbstractScrollArea>

#include "ui/export/exportable_figure.h"

namespace moewb {

class HeatmapScrollArea : public QAbstractScrollArea, public ExportableFigure {
  Q_OBJECT

 public:
  // Pixels per character, kept within the zoom's bounds.
  void setCellWidth(double pixels);
  double cellWidth() const { return cell_width_; }

 Q_SIGNALS:
  // Ctrl + wheel zoomed: the new pixels per character (the owner's Zoom slider follows).
  void cellWidthChanged(double pixels);

 protected:
  // vertical: Qt::ScrollBarAlwaysOff where the rows share the view's height, Qt::ScrollBarAsNeeded where they scroll.
  HeatmapScrollArea(Qt::ScrollBarPolicy vertical, QWidget* parent);

  // Where the grid starts, right of the row labels.
  virtual double gridLeft() const = 0;
  // Sets the scroll bars' ranges and steps from the geometry now: after a resize, a zoom, new data.
  virtual void updateScrollBars() = 0;
  // Follows a new cell width; by default only the scroll ranges do.
  virtual void cellWidthUpdated() { updateScrollBars(); }
  // The cursor left the viewport: forget the hovered cell and tell the owner.
  virtual void clearHover() = 0;
  // A wheel turn without Ctrl, `steps` notches (negative: towards the user); by default it scrolls the characters.
  virtual void scrollWheel(const QWheelEvent& event, double steps);

  // The horizontal range and steps for a grid of this many columns.
  void setColumnScrollRange(int columns);
  // Centres the column when part of it is out of view.
  void scrollColumnIntoView(int column);
  // Three characters per wheel notch.
  void scrollColumns(double steps);
  // The view never shrinks below its minimumSizeHint (which grows with the data).
  void updateMinimumHeight();
  // The tooltip beside the cell, never over it, at the cursor's height y.
  void showCellTooltip(const QRectF& cell, double y, const QString& text);

  void leaveEvent(QEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  double cell_width_ = 14;
};

}  // namespace moewb
