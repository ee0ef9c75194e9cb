// moewb: the desktop workbench. Opens on tiny Shakespeare (or the last dataset) with a preset for this machine.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QIcon>
#include <QStyle>
#include <QStyleFactory>
#include <QTimer>

#include <csignal>
#include <cstdio>

#include "app/version.h"
#include "core/model/machine.h"
#include "core/train/training.h"
#include "ui/render/palette.h"
#include "ui/shell/main_window.h"

namespace {
// "system" leaves style and palette to the platform theme (QT_QPA_PLATFORMTHEME, a dark desktop), which every
// view follows; light and dark pick Fusion, whose palette Qt applies the same on every platform.
bool apply_theme(const QString& name) {
  if (name == "system") return true;
  if (name != "light" && name != "dark") return false;
  QApplication::setStyle(QStyleFactory::create("Fusion"));
  QApplication::setPalette(name == "dark" ? moewb::dark_palette() : QApplication::style()->standardPalette());
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGXFSZ, SIG_IGN);  // past a file-size limit a save fails with its reason instead of killing the app
  QApplication::setApplicationName("moewb");
  QApplication::setOrganizationName("moewb");
  QApplication::setApplicationVersion(QString::fromStdString(moewb::project_version()));
  QCommandLineParser parser;
  parser.setApplicationDescription("MoE Routing Workbench: train and inspect mixture-of-experts character models");
  parser.addHelpOption();
  const QCommandLineOption version("version", "Print the version and the LibTorch it was built with, and exit.");
  parser.addOption(version);
  parser.addPositionalArgument("path", "A dataset (text file) or a run folder to open.");
  const QCommandLineOption theme("theme", "system (the desktop's palette, the default), light or dark: Fusion in "
                                          "its light palette or a dark one, for a desktop without a dark theme.",
                                 "theme", "system");
  parser.addOption(theme);
  // answered before the QApplication exists, which needs a display: `moewb --version` works over ssh and in
  // scripts (Qt's own options, not known here yet, do not stop it)
  QStringList arguments;
  for (int i = 0; i < argc; ++i) arguments << QString::fromLocal8Bit(argv[i]);
  parser.parse(arguments);
  if (parser.isSet(version)) {
    std::printf("%s\n", moewb::version_text("moewb").c_str());
    return 0;
  }
  QApplication app(argc, argv);
  QApplication::setApplicationDisplayName("MoE Routing Workbench");
  QApplication::setWindowIcon(QIcon(":/icons/moewb.svg"));
  QApplication::setDesktopFileName("moewb");  // Wayland matches the window to moewb.desktop (its icon, its name)
  parser.process(app);
  if (!apply_theme(parser.value(theme))) {
    std::fprintf(stderr, "moewb: unknown theme '%s' (system, light or dark)\n", qPrintable(parser.value(theme)));
    return 2;
  }
  moewb::init_torch_threads();

  moewb::MainWindow window(QStringLiteral(MOEWB_DEFAULT_DATASET));
  if (!parser.positionalArguments().isEmpty()) {
    const QString path = parser.positionalArguments().first();
    if (QFileInfo(path).isDir()) window.openRun(path);
    else window.openDataset(path);
  }
  window.show();
  // asked once the window is up: the run the last session left training; else the run it had open comes back
  const bool named = !parser.positionalArguments().isEmpty();
  QTimer::singleShot(0, &window, [&window, named] {
    if (!window.offerResume() && !named) window.reopenLastRun();
  });
  return QApplication::exec();
}
