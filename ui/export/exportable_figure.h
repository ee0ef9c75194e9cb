// A widget that shows a figure and can export it: it hands out the figure as it is shown now (a copy, painted
// by the widget-free renderers of render/), and install_export_menu() gives it the export context menu.
#pragma once

#include <QObject>

#include <functional>
#include <memory>

#include "ui/render/figure.h"

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

// A widget that has no figure class of its own (a table, a text view) exports what `make` builds when asked;
// owned by the widget, whose export menu it installs.
class FigureSource : public QObject, public ExportableFigure {
 public:
  FigureSource(QWidget* widget, std::function<std::unique_ptr<Figure>()> make);
  std::unique_ptr<Figure> exportFigure() const override { return make_(); }

 private:
  std::function<std::unique_ptr<Figure>()> make_;
};

// "Export figure…", "Export data as CSV…" and "Export data as JSON…" on right-click, the Menu key and
// Shift+F10 over the widget (which takes keyboard focus on click for that).
void install_export_menu(QWidget* widget, ExportableFigure* figure);
// The menu itself, for tests and toolbars: its actions run the export dialogs.
QMenu* make_export_menu(QWidget* parent, ExportableFigure* figure);
// The on-screen style of a widget: the screen figure style in the widget's palette colours (dark themes too).
FigureStyle screen_style(const QWidget* widget);

}  // namespace moewb
