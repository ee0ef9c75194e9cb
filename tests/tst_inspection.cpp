// The workbench as a user meets it on real screens: the window fits 1280 x 800, 1920 x 1080 and 200 % scale
// with Compare on and the paper suite running; the mouse wheel never edits an unfocused field; the state
// indicator follows the trainer through every transition (with immediate feedback on Pause and Stop); ETA and
// tokens/s clear when training is not running; a finished run says so; the suite's current run is shown live.
// Routing reads like text: the reading view's colours are the trace's top experts, keyboard and clicks move one
// pinned character through every view, traces follow their source (and streaming generation) by themselves,
// and show no capacity drops unless asked to act as training.
#include <QtTest>

#include <QAction>
#include <QDockWidget>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QLabel>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QToolButton>

#include <QPlainTextEdit>
#include <QPushButton>
#include <QSlider>
#include <QTableWidget>

#include "core/base/files.h"
#include "core/model/machine.h"
#include "core/train/training.h"
#include "test_corpus.h"
#include "ui/render/figure_export.h"
#include "ui/render/palette.h"
#include "ui/render/routing_figure.h"
#include "ui/routing/intervention_panel.h"
#include "ui/routing/routing_panel.h"
#include "ui/shell/main_window.h"

using namespace moewb;

namespace {

Config tiny_config(int max_iters = 100000) {
  Config c;
  c.n_layer = 2, c.n_head = 2, c.n_embd = 32, c.block_size = 16, c.batch_size = 4;
  c.ffn = Ffn::moe, c.n_experts = 4, c.top_k = 2;
  c.max_iters = max_iters, c.lr_decay_iters = max_iters, c.warmup_iters = 2;
  c.eval_interval = 5, c.eval_iters = 1, c.log_interval = 1;
  return c;
}

void trigger(QAction* action) {
  QVERIFY(action->isEnabled());
  action->trigger();
}

QString labelText(const MainWindow& w, const QString& startsWith) {
  for (auto* label : w.statusBar()->findChildren<QLabel*>())
    if (label->text().startsWith(startsWith)) return label->text();
  return {};
}

}  // namespace

class TestInspection : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString corpus_;

  std::unique_ptr<MainWindow> window(const QSize& size = {1280, 800}) {
    auto w = std::make_unique<MainWindow>(corpus_);
    w->setRunsDirectory(tmp_.filePath("runs"));
    w->setWindowState(Qt::WindowNoState);  // on a small screen the first start is maximised
    w->resize(size);
    w->show();
    return w;
  }

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("moewb-tests-inspection");
    QSettings().clear();
    corpus_ = tmp_.filePath("corpus.txt");
    atomic_write(corpus_.toStdString(), synthetic_corpus(6000));
  }

  void windowFitsTheScreen_data() {
    QTest::addColumn<QSize>("screen");
    QTest::newRow("1280x800") << QSize(1280, 800);
    QTest::newRow("1920x1080 at 200 %") << QSize(960, 540);
    QTest::newRow("1920x1080") << QSize(1920, 1080);
  }
  void windowFitsTheScreen() {
    QFETCH(QSize, screen);
    auto w = window(screen);
    w->configPanel()->setConfig(tiny_config());
    w->findChild<QTabWidget*>("views")->setCurrentIndex(1);  // Routing
    w->routingPanel()->setCompare(true);
    // the suite fills the Runs tab's progress row and, live, the heatmaps with its snapshots
    w->runsPanel()->startSuite(tiny_config(20), corpus_);  // short runs: the second (MoE) one is reached soon
    QVERIFY2(w->runsPanel()->suiteRunning(), qPrintable(w->errorMessage()));
    QTRY_VERIFY_WITH_TIMEOUT(w->windowTitle().contains("— softmax · N ") && w->routingPanel()->snapshotCount() >= 2, 60000);
    QVERIFY(!w->routingPanel()->heatmap()->trace().empty());
    for (int tab = 0; tab < 3; ++tab) {
      w->findChild<QTabWidget*>("views")->setCurrentIndex(tab);
      QApplication::processEvents();
      const QSize minimum = w->minimumSizeHint().expandedTo(w->minimumSize());
      QVERIFY2(minimum.width() <= screen.width() && minimum.height() <= screen.height(),
               qPrintable(QString("tab %1 needs at least %2 x %3").arg(tab).arg(minimum.width()).arg(minimum.height())));
      QCOMPARE(w->size(), screen);
      // the status bar with the state indicator is inside the window, not pushed below it
      QVERIFY(w->statusBar()->isVisible());
      QVERIFY(w->rect().contains(w->statusBar()->geometry()));
      QVERIFY(w->stateIndicator()->isVisible());
    }
    w->runsPanel()->stopSuite();
    QTRY_VERIFY_WITH_TIMEOUT(!w->runsPanel()->suiteRunning(), 60000);
  }

  // At 1280 x 800 the heatmap gets the window's height: Generation starts as a tab beside the configuration, and
  // where the user puts it is where the next start finds it.
  void generationLeavesTheViewsTheHeight() {
    QSettings().clear();
    auto w = window();
    auto* beside = w->findChild<QAction*>("generation_beside");
    auto* generation = w->findChild<QDockWidget*>("generation_dock");
    auto* configuration = w->findChild<QDockWidget*>("configuration_dock");
    QVERIFY(beside && generation && configuration);
    QTRY_VERIFY(beside->isChecked());
    QCOMPARE(w->tabifiedDockWidgets(configuration), QList<QDockWidget*>{generation});
    w->findChild<QTabWidget*>("views")->setCurrentIndex(1);  // Routing
    QTRY_VERIFY(w->routingPanel()->heatmap()->height() > 250);
    beside->trigger();
    QCOMPARE(w->dockWidgetArea(generation), Qt::BottomDockWidgetArea);
    QVERIFY(w->tabifiedDockWidgets(configuration).isEmpty());
    QVERIFY(generation->isVisible());
    w->close();
    w = window();
    beside = w->findChild<QAction*>("generation_beside");
    QCOMPARE(w->dockWidgetArea(w->findChild<QDockWidget*>("generation_dock")), Qt::BottomDockWidgetArea);
    QVERIFY(!beside->isChecked());
    beside->trigger();
    QVERIFY(!w->tabifiedDockWidgets(w->findChild<QDockWidget*>("configuration_dock")).isEmpty());
    w->close();
    QSettings().clear();
  }

  void wheelOverAnUnfocusedFieldChangesNothing() {
    auto w = window();
    w->activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(w.get()));
    auto* width = qobject_cast<QSpinBox*>(w->configPanel()->editorFor("n_embd"));
    QVERIFY(width);
    const int before = width->value();
    auto wheel = [&] {
      const QPointF at = width->rect().center();
      QWheelEvent event(at, width->mapToGlobal(at), QPoint(), QPoint(0, -120), Qt::NoButton, Qt::NoModifier,
                        Qt::NoScrollPhase, false);
      QApplication::sendEvent(width, &event);
    };
    wheel();
    QCOMPARE(width->value(), before);
    QCOMPARE(w->configPanel()->config().n_embd, before);
    // once the user clicked into it (it has the focus), the wheel edits it as usual
    width->setFocus();
    QVERIFY(width->hasFocus());
    wheel();
    QCOMPARE(width->value(), before - 1);
  }

  void stateIndicatorFollowsTheTrainer() {
    auto w = window();
    RunStateIndicator* state = w->stateIndicator();
    QCOMPARE(state->phase(), RunPhase::Idle);
    w->configPanel()->setConfig(tiny_config());
    trigger(w->startAction());
    QCOMPARE(state->phase(), RunPhase::Starting);  // at once, before the worker has built anything
    QTRY_COMPARE_WITH_TIMEOUT(state->phase(), RunPhase::Training, 30000);
    QTRY_VERIFY_WITH_TIMEOUT(labelText(*w, "ETA").size() > 4, 30000);
    QTRY_VERIFY_WITH_TIMEOUT(state->detail().startsWith("step "), 30000);

    trigger(w->pauseAction());
    QCOMPARE(state->phase(), RunPhase::Pausing);  // immediate feedback: the step finishes first
    QTRY_COMPARE_WITH_TIMEOUT(state->phase(), RunPhase::Paused, 30000);
    QVERIFY(state->detail().contains(QString::number(w->controller()->step())));
    QVERIFY(labelText(*w, "ETA").isEmpty());  // nothing stale while not training

    trigger(w->resumeAction());
    QTRY_COMPARE_WITH_TIMEOUT(state->phase(), RunPhase::Training, 30000);
    trigger(w->stopAction());
    QCOMPARE(state->phase(), RunPhase::Stopping);
    QTRY_COMPARE_WITH_TIMEOUT(state->phase(), RunPhase::Stopped, 30000);
    QVERIFY(labelText(*w, "ETA").isEmpty());
    QVERIFY(w->noticeMessage().isEmpty());

    // a run that completes says so, in the indicator and in a notice
    w->configPanel()->setConfig(tiny_config(12));
    trigger(w->startAction());
    QTRY_COMPARE_WITH_TIMEOUT(state->phase(), RunPhase::Finished, 60000);
    QVERIFY2(w->noticeMessage().contains("finished") && w->noticeMessage().contains("best validation loss"),
             qPrintable(w->noticeMessage()));
    QVERIFY(w->errorMessage().isEmpty());

    // a run that cannot start says it failed
    const QString doomed = tmp_.filePath("doomed.txt");
    atomic_write(doomed.toStdString(), synthetic_corpus(6000));
    QVERIFY(w->openDataset(doomed));
    QVERIFY(QFile::remove(doomed));
    trigger(w->startAction());
    QTRY_COMPARE_WITH_TIMEOUT(state->phase(), RunPhase::Failed, 30000);
    QVERIFY(!w->errorMessage().isEmpty());
  }

  void readingViewColoursAreTheTracesTopExperts() {
    Config c = tiny_config(30);
    c.use_capacity = true, c.capacity_factor = 0.25;
    auto trainer = Trainer::create(c, TextDataset::from_text(synthetic_corpus(6000), "synthetic"), "", "");
    while (!trainer->done()) trainer->advance();
    const InferenceModel model = trainer->snapshot();

    RoutingPanel panel;
    panel.resize(1200, 800);
    panel.reset(c);
    panel.show();
    int requests = 0;
    connect(&panel, &RoutingPanel::traceRequested, this, [&](const QString& text) {
      ++requests;
      panel.traceWith(model, text);
    });
    const QString text = QString::fromStdString(synthetic_corpus(300));
    panel.setSource(RoutingPanel::OwnText);
    panel.findChild<QPlainTextEdit*>()->setPlainText(text);  // traced by itself once typing pauses
    QTRY_COMPARE_WITH_TIMEOUT(panel.heatmap()->trace().length(), 300, 30000);
    const RoutingTrace trace = panel.heatmap()->trace();
    QVERIFY(!trace.capacity);
    for (const auto& l : trace.layers)
      for (int i = 0; i < l.length(); ++i) QVERIFY2(!l.any_dropped(i), "a default trace shows a capacity drop");

    RoutingReadingView* reading = panel.readingView();
    QCOMPARE(reading->trace().length(), 300);
    for (int layer = 0; layer < c.n_layer; ++layer) {
      panel.setReadingLayer(layer);
      const LayerTrace& l = trace.layers[static_cast<size_t>(layer)];
      for (int i = 0; i < 300; ++i) {
        const int e = l.top_expert(i);
        double weight = 0;
        for (int s = 0; s < l.slots; ++s)
          if (l.chosen_at(i, s) == e) weight = l.weight_at(i, s);
        QCOMPARE(reading->cellColor(i), weighted_expert_color(e, weight, reading->palette().color(QPalette::Base)));
      }
    }
    // "only E1": the colour stays exactly on the characters E1 processed
    panel.setHighlightedExpert(1);
    const LayerTrace& last = trace.layers.back();
    int kept = 0;
    for (int i = 0; i < 300; ++i) {
      bool e1 = false;
      for (int s = 0; s < last.slots; ++s) e1 = e1 || last.chosen_at(i, s) == 1;
      kept += e1;
      const QColor base = reading->palette().color(QPalette::Base);
      QCOMPARE(reading->cellColor(i), e1 ? routing_cell_color(last, i, base) : base);
    }
    QVERIFY(kept > 0 && kept < 300);
    panel.setHighlightedExpert(-1);

    // training's capacity, on request: drops appear and the trace says so
    panel.setTraceCapacity(true);
    QTRY_VERIFY_WITH_TIMEOUT(panel.heatmap()->trace().capacity, 30000);
    int dropped = 0;
    for (const auto& l : panel.heatmap()->trace().layers)
      for (int i = 0; i < l.length(); ++i) dropped += l.any_dropped(i);
    QVERIFY(dropped > 0);
    panel.setTraceCapacity(false);
    QTRY_VERIFY_WITH_TIMEOUT(!panel.heatmap()->trace().capacity, 30000);

    // a click on the text pins that character everywhere; the keyboard moves it
    QTest::mouseClick(reading->viewport(), Qt::LeftButton, {}, reading->cellRect(5).center());
    QCOMPARE(reading->pinnedPosition(), 5);
    QCOMPARE(panel.heatmap()->pinnedColumn(), 5);
    QCOMPARE(panel.columnDetail()->position(), 5);
    QTest::keyClick(reading, Qt::Key_Right);
    QCOMPARE(panel.heatmap()->pinnedColumn(), 6);
    QTest::keyClick(panel.heatmap(), Qt::Key_Left);
    QTest::keyClick(panel.heatmap(), Qt::Key_Left);
    QCOMPARE(reading->pinnedPosition(), 4);
    QCOMPARE(panel.columnDetail()->position(), 4);
    QTest::keyClick(reading, Qt::Key_End);
    QCOMPARE(panel.heatmap()->pinnedColumn(), 299);
    QTest::keyClick(reading, Qt::Key_PageUp);
    QCOMPARE(reading->layer(), c.n_layer - 2);
    QTest::keyClick(panel.heatmap(), Qt::Key_PageDown);
    QCOMPARE(reading->layer(), c.n_layer - 1);

    // Ctrl + wheel zooms the heatmap and the Zoom slider follows
    const int zoom = panel.zoomSlider()->value();
    QWheelEvent wheel(QPointF(200, 20), panel.heatmap()->viewport()->mapToGlobal(QPointF(200, 20)), QPoint(),
                      QPoint(0, 240), Qt::NoButton, Qt::ControlModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(panel.heatmap()->viewport(), &wheel);
    QVERIFY(panel.zoomSlider()->value() > zoom);
    QCOMPARE(panel.zoomSlider()->value(), static_cast<int>(std::lround(panel.heatmap()->cellWidth())));

    // text the model cannot read is refused where the user typed it, and the heatmap no longer shows the last text
    panel.findChild<QPlainTextEdit*>()->setPlainText(" café {x}");
    auto* status = panel.findChild<QLabel*>("routing_status");
    QVERIFY(status);
    QTRY_VERIFY_WITH_TIMEOUT(panel.status().startsWith("Cannot trace"), 30000);
    QVERIFY2(panel.status().contains("é"), qPrintable(panel.status()));
    QVERIFY(status->isVisible() && status->width() > 200);
    QCOMPARE(panel.heatmap()->trace().length(), 0);
    QCOMPARE(reading->trace().length(), 0);
    panel.findChild<QPlainTextEdit*>()->setPlainText(text.left(50));
    QTRY_COMPARE_WITH_TIMEOUT(panel.heatmap()->trace().length(), 50, 30000);
    QVERIFY(!status->isVisible());  // the error ends with the text that caused it

    // switching the source traces the new text at once (the old trace is not left on screen)
    const int before = requests;
    panel.setSource(RoutingPanel::Generated);
    QCOMPARE(panel.heatmap()->trace().length(), 0);
    QVERIFY(!panel.status().isEmpty());  // nothing generated yet: it says so
    // generated text is traced as it streams
    panel.streamGenerated(model, text.left(40));
    QTRY_COMPARE_WITH_TIMEOUT(panel.heatmap()->trace().length(), 40, 30000);
    panel.streamGenerated(model, text.left(120));
    QTRY_COMPARE_WITH_TIMEOUT(panel.heatmap()->trace().length(), 120, 30000);
    QCOMPARE(requests, before);  // the stream brings its own model

    // statistics of the whole validation split, counted off the GUI thread with the model the owner supplies
    const QString dataset = tmp_.filePath("stats.txt");
    atomic_write(dataset.toStdString(), synthetic_corpus(6000));
    const TextDataset data = TextDataset::from_file(dataset.toStdString());
    panel.setDatasetPath(dataset);
    connect(&panel, &RoutingPanel::statisticsRequested, this, [&] { panel.countValidationWith(model); });
    panel.setStatisticsSource(1);
    QTRY_COMPARE_WITH_TIMEOUT(panel.statistics().characters(), static_cast<int64_t>(data.val_size()), 30000);
    int64_t occurrences = 0;
    for (int count : panel.affinityView()->figure().matrix().counts) occurrences += count;
    QCOMPARE(occurrences, static_cast<int64_t>(data.val_size()));
    QCOMPARE(panel.topCharactersTable()->rowCount(), 4);
    QVERIFY(panel.topCharactersTable()->item(0, 1)->text().contains('%'));
    panel.setStatisticsSource(0);  // back to the shown trace
    QCOMPARE(panel.statistics().characters(), int64_t{120});
  }

  // The Intervene tab compares the model with and without an intervention: the same numbers as the core, the
  // text coloured by each character's loss change (red = worse), generation from the same seed both ways.
  void interventionPanelShowsWhatAnExpertDoes() {
    const Config c = tiny_config(30);
    const QString dataset = tmp_.filePath("intervene.txt");
    atomic_write(dataset.toStdString(), synthetic_corpus(6000));
    auto trainer = Trainer::create(c, TextDataset::from_file(dataset.toStdString()), "", "");
    while (!trainer->done()) trainer->advance();
    const InferenceModel model = trainer->snapshot();
    InterventionPanel panel;
    panel.resize(900, 700);
    panel.reset(c);
    panel.show();
    const QString text = QString::fromStdString(synthetic_corpus(200));
    panel.setText(text);
    panel.setDatasetPath(dataset);
    const Intervention iv{1, 0, -1};
    panel.setIntervention(iv);
    QCOMPARE(panel.intervention().layer, 1);
    QCOMPARE(panel.intervention().disable, 0);
    connect(&panel, &InterventionPanel::modelRequested, this, [&] { panel.runWith(model); });
    QSignalSpy done(&panel, &InterventionPanel::finished);
    QTest::mouseClick(panel.findChild<QPushButton*>("apply_intervention"), Qt::LeftButton);
    QVERIFY(done.wait(60000));
    const InterventionResult& r = panel.result();
    const std::vector<double> before = model.char_losses(text.toStdString());
    const std::vector<double> after = model.intervened(iv).char_losses(text.toStdString());
    QCOMPARE(r.before.size(), before.size());
    size_t worst = 1;
    for (size_t i = 1; i < before.size(); ++i) {
      QCOMPARE(r.before[i], before[i]);
      QCOMPARE(r.after[i], after[i]);
      if (after[i] - before[i] > after[worst] - before[worst]) worst = i;
    }
    QVERIFY(after[worst] > before[worst]);
    const QColor hot = panel.lossView()->cellColor(static_cast<int>(worst));
    QVERIFY2(hot.red() > hot.blue(), "the most harmed character is not drawn red");
    const TextDataset data = TextDataset::from_file(dataset.toStdString());
    QCOMPARE(r.val_before, model.loss(data, true, r.batches, 1337));
    QCOMPARE(panel.classTable()->item(panel.classTable()->rowCount() - 1, 0)->text(), QString("all"));
    QCOMPARE(r.generated_before.size(), size_t{300});
    QCOMPARE(r.generated_after.size(), size_t{300});

    // both views export: the loss-change text as a figure whose CSV holds every character's losses, the class
    // table as a table figure with the shown rows
    const auto figure = panel.lossChangeFigure();
    const QStringList lines = figure->csv().split('\n', Qt::SkipEmptyParts);
    QVERIFY(lines[0].startsWith("# ") && lines[0].contains("layer 1: expert 0 disabled"));
    QCOMPARE(lines[1], QString("position,character,loss,loss_after,delta"));
    QCOMPARE(lines.size(), 2 + text.size() + text.count('\n'));  // a newline is a quoted cell over two lines
    for (int i = 1; i < text.size(); ++i) {
      if (QString(",\"\n").contains(text[i])) continue;  // quoted cells
      const QStringList row = lines.filter(QRegularExpression(QString("^%1,").arg(i)));
      QCOMPARE(row.size(), 1);
      QVERIFY(std::abs(row[0].split(',')[4].toDouble() - (after[i] - before[i])) < 1e-6);
    }
    QVERIFY(lines[2].endsWith(",,,"));  // nothing predicts the first character
    QVERIFY(QJsonDocument::fromJson(figure->json().toUtf8()).object()["characters"].toArray().size() == text.size());
    ExportOptions png;
    png.size = {640, 0};
    const QString path = qEnvironmentVariable("MOEWB_FIGURES_DIR", tmp_.path()) + "/loss_change.png";  // kept to look at
    export_figure(path, *figure, png);
    const QImage image(path);
    QVERIFY(!image.isNull() && image.height() > 100);
    const auto table = panel.classTableFigure();
    QVERIFY(table->csv().contains("all,"));
    QCOMPARE(table->csv().count('\n'), panel.classTable()->rowCount() + 1);
  }

  // The window keeps a core: training uses all but one by default, or the count chosen in the settings.
  void trainingLeavesOneCoreToTheGui() {
    const int cores = QThread::idealThreadCount();
    {
      auto w = window();
      QCOMPARE(training_threads(), std::max(1, cores - 1));
      QVERIFY2(labelText(*w, "Device: CPU").contains(QString("%1 of %2").arg(std::max(1, cores - 1)).arg(cores)),
               qPrintable(labelText(*w, "Device:")));
    }
    QSettings().setValue("trainingThreads", cores);
    {
      auto w = window();
      QCOMPARE(training_threads(), cores);
    }
    QSettings().remove("trainingThreads");
  }

  void theSuitesCurrentRunIsShownLive() {
    auto w = window();
    w->runsPanel()->startSuite(tiny_config(), corpus_);
    QTRY_COMPARE_WITH_TIMEOUT(w->stateIndicator()->phase(), RunPhase::Training, 30000);
    QVERIFY2(w->stateIndicator()->detail().contains("run 1 of 5"), qPrintable(w->stateIndicator()->detail()));
    QVERIFY2(w->windowTitle().contains("— dense · "), qPrintable(w->windowTitle()));  // the suite's first variant
    QTRY_VERIFY_WITH_TIMEOUT(w->trainingPanel()->history().train_loss.size() >= 3, 30000);
    QTRY_VERIFY_WITH_TIMEOUT(labelText(*w, "Step ").size() > 5, 30000);
    w->runsPanel()->stopSuite();
    QTRY_COMPARE_WITH_TIMEOUT(w->stateIndicator()->phase(), RunPhase::Stopped, 60000);
  }
};

QTEST_MAIN(TestInspection)
#include "tst_inspection.moc"
