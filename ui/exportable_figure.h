// A widget that shows a figure and can export it: it hands out the figure as it is shown now (a copy, painted
// by the widget-free renderers of render/), and install_export_menu() gives it the export context menu.
#pragma once

#include <memory>

#include "figure.h"

class QMenu;
class QWidget;

namespace moewb {

class ExportableFigure {
 public:
  virtual ~ExportableFigure() = default;
  virtual std::unique_ptr<Figure> exportFigure() const = 0;
  // Actions on the view itself (Reset zoom), listed below the export actions of the context menu.
  virtual void addViewActions(QMenu*) {}
};

// "Export figure…", "Export data as CSV…" and "Export data as JSON…" on right-click, the Menu key and
// Shift+F10 over the widget (which takes keyboard focus on click for that).
void install_export_menu(QWidget* widget, ExportableFigure* figure);
// The menu itself, for tests and toolbars: its actions run the export dialogs.
QMenu* make_export_menu(QWidget* parent, ExportableFigure* figure);
// The on-screen style of a widget: the screen figure style in the widget's palette colours (dark themes too).
FigureStyle screen_style(const QWidget* widget);

}  // namespace moewb
