#include "exportable_figure.h"

#include <QDir>
#include <QFileInfo>
#include <QFileDialog>
#include <QMenu>
#include <QMessageBox>
#include <QSaveFile>
#include <QSettings>
#include <QWidget>

#include "export_dialog.h"

namespace moewb {

namespace {
QString last_directory() { return QSettings().value("exportDirectory", QDir::homePath()).toString(); }
}  // namespace

void export_figure_data(const QString& path, const QString& text) {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly) || file.write(text.toUtf8()) < 0 || !file.commit())
    throw std::runtime_error("cannot write '" + path.toStdString() + "': " + file.errorString().toStdString());
}

void install_export_menu(QWidget* widget, ExportableFigure* figure) {
  widget->setContextMenuPolicy(Qt::CustomContextMenu);
  QObject::connect(widget, &QWidget::customContextMenuRequested, widget, [widget, figure](const QPoint& at) {
    QMenu menu(widget);
    auto* image = menu.addAction("Export figure…");
    auto* csv = menu.addAction("Export data as CSV…");
    auto* json = menu.addAction("Export data as JSON…");
    QAction* chosen = menu.exec(widget->mapToGlobal(at));
    if (!chosen) return;
    const QString base = QDir(last_directory()).filePath(figure->figureName());
    try {
      if (chosen == image) {
        ExportDialog dialog(base + ".png", figure->naturalSize(), widget);
        if (dialog.exec() != QDialog::Accepted) return;
        export_figure(dialog.path(), [figure](QPainter& p, const QRect& r) { figure->paintFigure(p, r); },
                      dialog.options());
        QSettings().setValue("exportDirectory", QFileInfo(dialog.path()).absolutePath());
      } else {
        const bool is_csv = chosen == csv;
        const QString path = QFileDialog::getSaveFileName(widget, chosen->text(), base + (is_csv ? ".csv" : ".json"),
                                                          is_csv ? "CSV (*.csv)" : "JSON (*.json)");
        if (path.isEmpty()) return;
        export_figure_data(path, is_csv ? figure->dataCsv() : figure->dataJson());
        QSettings().setValue("exportDirectory", QFileInfo(path).absolutePath());
      }
    } catch (const std::exception& e) {
      QMessageBox::warning(widget, "Export failed", e.what());
    }
  });
}

}  // namespace moewb
