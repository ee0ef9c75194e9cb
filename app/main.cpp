// moewb: the desktop workbench. Opens on tiny Shakespeare (or the last dataset) with a preset for this machine.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QTimer>

#include "main_window.h"
#include "training.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("moewb");
  QApplication::setOrganizationName("moewb");
  QApplication::setApplicationDisplayName("MoE Routing Workbench");
  QCommandLineParser parser;
  parser.setApplicationDescription("MoE Routing Workbench: train and inspect mixture-of-experts character models");
  parser.addHelpOption();
  parser.addPositionalArgument("path", "A dataset (text file) or a run folder to open.");
  parser.process(app);
  moewb::init_torch_threads();

  moewb::MainWindow window(QStringLiteral(MOEWB_DEFAULT_DATASET));
  if (!parser.positionalArguments().isEmpty()) {
    const QString path = parser.positionalArguments().first();
    if (QFileInfo(path).isDir()) window.openRun(path);
    else window.openDataset(path);
  }
  window.show();
  // asked once the window is up: the run the last session left training
  QTimer::singleShot(0, &window, [&window] { window.offerResume(); });
  return QApplication::exec();
}
