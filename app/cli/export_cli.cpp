// No commands: the figures `moewb-cli export` draws offscreen (its options: exchange_commands.cpp).
#include "app/cli/export_cli.h"

#include <QApplication>

#include <iostream>

#include "ui/render/run_figures.h"

namespace moewb {

int export_run_cli(int argc, char** argv, const std::string& run_dir, const std::string& formats, int dpi,
                   const std::string& style) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);  // Qt Charts draws through a graphics scene, which needs one; no window opens
  try {
    QList<FigureFormat> list;
    for (const QString& f : QString::fromStdString(formats).split(',', Qt::SkipEmptyParts)) list << format_of(f.trimmed());
    if (list.isEmpty()) throw std::invalid_argument("--format needs at least one of png, svg, pdf");
    const QStringList written =
        export_run_figures(QString::fromStdString(run_dir), list, dpi, QString::fromStdString(style));
    std::cout << "wrote " << written.size() << " files into " << run_dir << "/figures\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace moewb
