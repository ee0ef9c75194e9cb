#include "ui/export/exportable_figure.h"

#include <QAbstractScrollArea>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeyEvent>
#include <QMenu>
#include <QMessageBox>
#include <QSettings>
#include <QWidget>

#include "ui/export/export_dialog.h"
#include "ui/render/figure_export.h"

namespace moewb {

FigureSource::FigureSource(QWidget* widget, std::function<std::unique_ptr<Figure>()> make)
    : QObject(widget), make_(std::move(make)) {
  install_export_menu(widget, this);
}

namespace {

QString last_directory() { return QSettings().value("exportDirectory", QDir::homePath()).toString(); }

void export_image(QWidget* parent, const Figure& figure) {
  ExportDialog dialog(QDir(last_directory()).filePath(figure.name() + ".png"), figure, parent);
  if (dialog.exec() != QDialog::Accepted) return;
  export_figure(dialog.path(), figure, dialog.options());
  QSettings().setValue("exportDirectory", QFileInfo(dialog.path()).absolutePath());
}

void export_data(QWidget* parent, const Figure& figure, bool csv) {
  const QString path =
      QFileDialog::getSaveFileName(parent, csv ? "Export data as CSV" : "Export data as JSON",
                                   QDir(last_directory()).filePath(figure.name() + (csv ? ".csv" : ".json")),
                                   csv ? "CSV (*.csv)" : "JSON (*.json)");
  if (path.isEmpty()) return;
  export_figure_data(path, csv ? figure.csv() : figure.json());
  QSettings().setValue("exportDirectory", QFileInfo(path).absolutePath());
}

// The Menu key and Shift+F10 open the same menu as a right-click, at the widget's centre.
class MenuKeyFilter : public QObject {
 public:
  MenuKeyFilter(QWidget* widget, ExportableFigure* figure) : QObject(widget), widget_(widget), figure_(figure) {}
  bool eventFilter(QObject*, QEvent* event) override {
    if (event->type() != QEvent::KeyPress) return false;
    const auto* key = static_cast<QKeyEvent*>(event);
    if (key->key() != Qt::Key_Menu && !(key->key() == Qt::Key_F10 && key->modifiers() == Qt::ShiftModifier))
      return false;
    QMenu* menu = make_export_menu(widget_, figure_);
    menu->setAttribute(Qt::WA_DeleteOnClose);
    menu->popup(widget_->mapToGlobal(widget_->rect().center()));
    return true;
  }

 private:
  QWidget* widget_;
  ExportableFigure* figure_;
};

}  // namespace

QMenu* make_export_menu(QWidget* parent, ExportableFigure* figure) {
  auto* menu = new QMenu(parent);
  menu->setObjectName("export_menu");
  auto run = [parent, figure](auto action) {
    return [parent, figure, action] {
      try {
        const std::unique_ptr<Figure> shown = figure->exportFigure();
        action(*shown);
      } catch (const std::exception& e) {
        QMessageBox::warning(parent, "Export failed", e.what());
      }
    };
  };
  QObject::connect(menu->addAction("Export figure…"), &QAction::triggered, parent,
                   run([parent](const Figure& f) { export_image(parent, f); }));
  QObject::connect(menu->addAction("Export data as CSV…"), &QAction::triggered, parent,
                   run([parent](const Figure& f) { export_data(parent, f, true); }));
  QObject::connect(menu->addAction("Export data as JSON…"), &QAction::triggered, parent,
                   run([parent](const Figure& f) { export_data(parent, f, false); }));
  figure->addViewActions(menu);
  return menu;
}

void install_export_menu(QWidget* widget, ExportableFigure* figure) {
  // A scroll area receives its viewport's context-menu events: the policy belongs on the area itself.
  widget->setContextMenuPolicy(Qt::CustomContextMenu);
  if (widget->focusPolicy() == Qt::NoFocus) widget->setFocusPolicy(Qt::ClickFocus);
  widget->installEventFilter(new MenuKeyFilter(widget, figure));
  QObject::connect(widget, &QWidget::customContextMenuRequested, widget, [widget, figure](const QPoint& at) {
    QMenu* menu = make_export_menu(widget, figure);
    menu->setAttribute(Qt::WA_DeleteOnClose);
    const auto* area = qobject_cast<QAbstractScrollArea*>(widget);
    menu->popup(area ? area->viewport()->mapToGlobal(at) : widget->mapToGlobal(at));
  });
}

FigureStyle screen_style(const QWidget* widget) {
  FigureStyle s = FigureStyle::screen();
  const QPalette& p = widget->palette();
  s.background = p.color(QPalette::Base);
  s.foreground = p.color(QPalette::Text);
  s.muted = p.color(QPalette::PlaceholderText);
  // a grid a little off the background, whichever way the theme goes
  s.grid_color = s.background.lightnessF() > 0.5 ? s.background.darker(112) : s.background.lighter(160);
  return s;
}

}  // namespace moewb
