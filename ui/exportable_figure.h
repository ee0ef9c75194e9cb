// A figure that can be exported: it paints itself at any size and describes its data. Charts, heatmaps and the
// affinity matrix implement it; the context menu, the export dialog and "Export all figures" only use this.
#pragma once

#include <QRect>
#include <QSize>
#include <QString>

class QPainter;
class QWidget;

namespace moewb {

class ExportableFigure {
 public:
  virtual ~ExportableFigure() = default;
  virtual QString figureName() const = 0;  // used as the file's base name
  virtual QSize naturalSize() const = 0;   // logical pixels
  virtual void paintFigure(QPainter& p, const QRect& target) = 0;
  // The numbers behind the figure, with a header naming units and conventions.
  virtual QString dataCsv() const = 0;
  virtual QString dataJson() const = 0;
};

// Adds "Export figure…", "Export data as CSV…" and "Export data as JSON…" to the widget's context menu.
void install_export_menu(QWidget* widget, ExportableFigure* figure);
// Writes name.csv and name.json beside each other; throws std::runtime_error.
void export_figure_data(const QString& path, const QString& text);

}  // namespace moewb
