// The workbench through its widgets on the offscreen platform: Start trains and charts, Stop leaves a
// checkpoint, invalid configs disable Start with a message at the field, pause/resume keeps the step count,
// the GUI thread stays responsive during training, reopening a run restores config and charts, and generation
// streams text.
#include <QtTest>

#include <QAction>
#include <QComboBox>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QStatusBar>
#include <QToolBar>
#include <QToolButton>

#include <algorithm>

#include "core/base/files.h"
#include "core/config/memory_estimate.h"
#include "core/data/text_dataset.h"
#include "core/model/machine.h"
#include "core/runs/disk_space.h"
#include "core/runs/run_summary.h"
#include "test_corpus.h"
#include "ui/routing/routing_panel.h"
#include "ui/shell/main_window.h"
#include "ui/training/config_panel.h"

using namespace moewb;

namespace {

Config tiny_gui_config() {
  Config c;
  c.n_layer = 2, c.n_head = 2, c.n_embd = 32, c.block_size = 16, c.batch_size = 4;
  c.ffn = Ffn::moe, c.n_experts = 4, c.top_k = 2;
  c.max_iters = 100000, c.lr_decay_iters = 100000, c.warmup_iters = 10;
  c.eval_interval = 10, c.eval_iters = 1, c.log_interval = 1;
  return c;
}

// Opens a run (read off the GUI thread) and waits until it is shown; false when it could not be opened.
bool open_run(MainWindow& w, const QString& dir) {
  QSignalSpy opened(&w, &MainWindow::runOpened);
  if (!w.openRun(dir)) return false;
  if (!opened.wait(30000)) return false;
  return opened.first().at(1).toBool();
}

void click(MainWindow& w, QAction* action) {
  QToolButton* button = nullptr;
  for (auto* bar : w.findChildren<QToolBar*>())
    if (auto* b = qobject_cast<QToolButton*>(bar->widgetForAction(action))) button = b;
  QVERIFY(button);
  QVERIFY(button->isEnabled());
  QTest::mouseClick(button, Qt::LeftButton);
}

}  // namespace

class TestGui : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString corpus_;
  QString saved_run_;
  int saved_points_ = 0;

  std::unique_ptr<MainWindow> window(const QString& dataset) {
    auto w = std::make_unique<MainWindow>(dataset);
    w->setRunsDirectory(tmp_.filePath("runs"));
    w->resize(1280, 800);
    w->show();
    return w;
  }

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("moewb-tests");
    QSettings().clear();
    corpus_ = tmp_.filePath("corpus.txt");
    atomic_write(corpus_.toStdString(), synthetic_corpus(6000));
  }

  // A newcomer's first Start trains a mixture of experts, and the preset box never claims a preset the form
  // no longer holds, in this session or the next.
  void firstLaunchIsAMixtureAndAnEditSaysCustom() {
    QSettings().clear();
    auto w = window(corpus_);
    const Config first = w->configPanel()->config();
    QVERIFY(first.is_moe());
    QCOMPARE(first.routing, RoutingMode::topk);
    QCOMPARE(first.top_k, 2);
    QCOMPARE(first.aux_alpha, 0.01);
    auto* box = w->configPanel()->findChild<QComboBox*>("preset");
    QVERIFY(box);
    QCOMPARE(box->currentText(), QString("cpu-quick"));
    auto* layers = qobject_cast<QSpinBox*>(w->configPanel()->editorFor("n_layer"));
    layers->setValue(3);
    QCOMPARE(box->currentText(), QString("custom (from cpu-quick)"));
    QCOMPARE(box->count(), 3);  // the state is shown once, beside the presets
    box->activated(2);          // choosing the state itself loads nothing
    QCOMPARE(w->configPanel()->config().n_layer, 3);
    w->close();
    w = window(corpus_);
    QCOMPARE(w->configPanel()->config().n_layer, 3);
    box = w->configPanel()->findChild<QComboBox*>("preset");
    QCOMPARE(box->currentText(), QString("custom (from cpu-quick)"));
    layers = qobject_cast<QSpinBox*>(w->configPanel()->editorFor("n_layer"));
    layers->setValue(4);
    QCOMPARE(box->currentText(), QString("cpu-quick"));  // back to the preset: no longer custom
    QCOMPARE(box->count(), 2);
    w->close();
    QSettings().clear();  // the other tests open the dataset they name, not the one remembered here
  }

  // Tab walks the configuration form as it is drawn: down the groups, row by row.
  void tabFollowsTheForm() {
    ConfigPanel panel;
    panel.resize(400, 2400);  // every row on screen
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QWidget* const preset = panel.findChild<QComboBox*>("preset");
    QWidget* w = preset;
    int editors = 0, last_y = -1;
    for (int i = 0; i < 500; ++i) {
      w = w->nextInFocusChain();
      if (w == preset) break;  // round the whole chain
      if (w == &panel || panel.editorFor(w->objectName()) != w) continue;
      const int y = w->mapTo(&panel, QPoint(0, 0)).y();
      QVERIFY2(y > last_y, qPrintable(QString("%1 comes after a field below it").arg(w->objectName())));
      last_y = y;
      ++editors;
    }
    QVERIFY(editors >= 25);
  }

  void startTrainsAndStopLeavesACheckpoint() {
    auto w = window(corpus_);
    w->configPanel()->setConfig(tiny_gui_config());
    // Generate before there is a model: the panel says why, and stops saying it once a model trains
    auto* generate = w->generationPanel()->findChild<QPushButton*>();
    QTest::mouseClick(generate, Qt::LeftButton);
    QVERIFY(w->generationPanel()->status().contains("no model yet"));
    QVERIFY(w->startAction()->isEnabled());
    click(*w, w->startAction());
    QTRY_VERIFY_WITH_TIMEOUT(w->trainingPanel()->lossChart()->points("train (raw)").size() >= 5, 30000);
    QCOMPARE(w->generationPanel()->status(), QString());
    QTRY_VERIFY(w->progressBar()->value() > 0);
    QVERIFY(!w->startAction()->isEnabled());
    click(*w, w->stopAction());
    QTRY_COMPARE_WITH_TIMEOUT(w->controller()->state(), TrainingController::State::Idle, 30000);
    const QString run = w->controller()->runDir();
    QVERIFY(QFileInfo::exists(run + "/checkpoints/latest.pt"));
    QVERIFY(QFileInfo::exists(run + "/config.json"));
    QVERIFY(w->startAction()->isEnabled());
    saved_run_ = run;
    saved_points_ = w->trainingPanel()->history().train_loss.size();

    // generation from the stopped model streams into the Generation panel
    auto* button = w->generationPanel()->findChild<QPushButton*>();
    QVERIFY(button);
    QTest::mouseClick(button, Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!w->generationPanel()->running() && w->generationPanel()->text().size() >= 500, 30000);

    // the generated text routed through the same model, off the GUI thread
    RoutingPanel* routing = w->routingPanel();
    routing->setSource(RoutingPanel::Generated);
    auto* trace = routing->findChild<QPushButton*>("trace_button");
    QVERIFY(trace && trace->isVisible() == routing->isVisible());
    QTest::mouseClick(trace, Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(routing->heatmap()->trace().length(), 500, 30000);
    QCOMPARE(routing->heatmap()->trace().layers.size(), size_t{2});
    QCOMPARE(routing->shownText(), w->generationPanel()->text());
  }

  // A Stop that comes before the worker has begun the run (a click right after Start, or the app closing) is not
  // wiped by the beginning: the run stops at once instead of training to its end.
  void stopRightAfterStartStops() {
    TrainingController controller;
    controller.start(tiny_gui_config(), corpus_, tmp_.filePath("runs/stopped-at-once"));
    controller.stop();
    QTRY_COMPARE_WITH_TIMEOUT(controller.state(), TrainingController::State::Idle, 30000);
    QVERIFY2(controller.step() < 20, qPrintable(QString("stopped at step %1").arg(controller.step())));
  }

  void invalidConfigDisablesStart_data() {
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("errorField");
    QTest::newRow("k > N") << "top_k" << "5" << "top_k";
    QTest::newRow("cf <= 0") << "capacity_factor" << "0" << "capacity_factor";
    QTest::newRow("d % heads") << "n_head" << "3" << "n_embd";
    QTest::newRow("empty dataset") << "" << "" << "dataset";
    QTest::newRow("more memory than the machine has") << "batch_size" << "2000000" << "batch_size";
    if (!cuda_available()) QTest::newRow("missing CUDA device") << "device" << "cuda" << "device";
  }
  void invalidConfigDisablesStart() {
    QFETCH(QString, field);
    QFETCH(QString, value);
    QFETCH(QString, errorField);
    const QString empty = tmp_.filePath("empty.txt");
    atomic_write(empty.toStdString(), "");
    auto w = window(field.isEmpty() ? empty : corpus_);
    Config c = tiny_gui_config();
    c.use_capacity = true;
    if (!field.isEmpty()) QCOMPARE(apply_override(c, field.toStdString(), value.toStdString()), std::string());
    w->configPanel()->setConfig(c);
    QVERIFY(!w->startAction()->isEnabled());
    const QString message = w->configPanel()->errorFor(errorField);
    QVERIFY2(!message.isEmpty(), qPrintable(errorField));
    if (value == "2000000") QVERIFY2(message.contains("would need about"), qPrintable(message));
    if (errorField == "dataset") {
      QVERIFY(w->errorMessage().contains("empty"));
    } else {
      auto* label = w->configPanel()->findChild<QLabel*>(errorField + "_error");
      QVERIFY(label && label->isVisible());
      QCOMPARE(label->text(), message);
    }
    // fixing it enables Start again
    if (!field.isEmpty()) {
      w->configPanel()->setConfig(tiny_gui_config());
      QVERIFY(w->startAction()->isEnabled());
    }
  }

  // The Memory row's tooltip also says what one checkpoint takes on disk, which grows with the model.
  void memoryRowSaysWhatACheckpointTakes() {
    auto w = window(corpus_);
    auto* memory = w->configPanel()->findChild<QLabel*>("memory");
    QVERIFY(memory);
    const int vocab = static_cast<int>(TextDataset::from_file(corpus_.toStdString()).vocab.size());
    Config c = tiny_gui_config();
    c.n_layer = 4, c.n_embd = 256, c.n_head = 4;
    for (int layers : {4, 8}) {
      c.n_layer = layers;
      w->configPanel()->setConfig(c);
      const QString expected = QString("each checkpoint takes about %1")
                                   .arg(QString::fromStdString(format_bytes(checkpoint_file_bytes(c, vocab))));
      QTRY_VERIFY2_WITH_TIMEOUT(memory->toolTip().contains(expected), qPrintable(memory->toolTip()), 10000);
    }
  }

  void pauseHoldsTheStepAndResumeContinues() {
    auto w = window(corpus_);
    w->configPanel()->setConfig(tiny_gui_config());
    QSignalSpy steps(w->controller(), &TrainingController::stepDone);
    click(*w, w->startAction());
    QTRY_VERIFY_WITH_TIMEOUT(steps.size() >= 3, 30000);
    click(*w, w->pauseAction());
    QTRY_COMPARE_WITH_TIMEOUT(w->controller()->state(), TrainingController::State::Paused, 30000);
    const int held = w->controller()->step();
    QCOMPARE(steps.last().at(0).value<StepReport>().step, held);
    const int reports = steps.size();
    QVERIFY(w->resumeAction()->isEnabled());
    click(*w, w->resumeAction());
    QTRY_VERIFY_WITH_TIMEOUT(steps.size() > reports, 30000);
    QCOMPARE(steps.at(reports).at(0).value<StepReport>().step, held + 1);
    click(*w, w->stopAction());
    QTRY_COMPARE_WITH_TIMEOUT(w->controller()->state(), TrainingController::State::Idle, 30000);
  }

  void guiThreadStaysResponsiveWhileTraining() {
    auto w = window(corpus_);
    Config c = tiny_gui_config();
    c.n_layer = 4, c.n_embd = 256, c.n_head = 4, c.block_size = 128, c.batch_size = 16;  // ~0.1-0.3 s per step
    c.eval_interval = 1000;
    w->configPanel()->setConfig(c);
    QElapsedTimer clock;
    QList<qint64> arrivals;
    connect(w->controller(), &TrainingController::stepDone, this, [&] { arrivals << clock.elapsed(); });
    qint64 worst_gap = 0, last_tick = 0;
    QTimer ticker;
    ticker.setInterval(5);
    connect(&ticker, &QTimer::timeout, this, [&] {
      const qint64 now = clock.elapsed();
      if (last_tick > 0) worst_gap = std::max(worst_gap, now - last_tick);
      last_tick = now;
    });
    click(*w, w->startAction());
    QTRY_VERIFY_WITH_TIMEOUT(arrivals.size() >= 2, 60000);  // past model construction and the first step
    clock.start();
    arrivals.clear();
    ticker.start();
    QTRY_VERIFY_WITH_TIMEOUT(arrivals.size() >= 8, 120000);
    ticker.stop();
    click(*w, w->stopAction());
    QTRY_COMPARE_WITH_TIMEOUT(w->controller()->state(), TrainingController::State::Idle, 60000);
    QList<qint64> durations;
    for (int i = 1; i < arrivals.size(); ++i) durations << arrivals[i] - arrivals[i - 1];
    std::sort(durations.begin(), durations.end());
    const qint64 step_ms = durations[durations.size() / 2];
    qInfo("median step %lld ms, worst GUI timer gap %lld ms", step_ms, worst_gap);
    // A GUI thread that waited on a step would show a gap of at least one step; allow half of one.
    QVERIFY(step_ms >= 40);
    QVERIFY2(worst_gap < step_ms / 2, qPrintable(QString("gap %1 ms, step %2 ms").arg(worst_gap).arg(step_ms)));
  }

  void openingARunRestoresConfigAndCharts() {
    QVERIFY(!saved_run_.isEmpty());
    auto w = window(corpus_);
    w->configPanel()->setConfig(Config{});
    QSignalSpy opened(w.get(), &MainWindow::runOpened);
    QVERIFY(w->openRun(saved_run_));
    QCOMPARE(to_json(w->configPanel()->config()), to_json(Config{}));  // returned before reading the folder
    QVERIFY(opened.wait(30000));
    QVERIFY(opened.first().at(1).toBool());
    QCOMPARE(to_json(w->configPanel()->config()), to_json(tiny_gui_config()));
    w->trainingPanel()->flush();
    QCOMPARE(w->trainingPanel()->lossChart()->points("train (raw)").size(), saved_points_);
    QVERIFY(!w->trainingPanel()->lossChart()->points("val").isEmpty());
    QVERIFY(w->resumeAction()->isEnabled());
    // the run's checkpoint (loaded off the GUI thread) routes a slice of validation text by itself
    w->routingPanel()->setSource(RoutingPanel::Validation);
    QTRY_VERIFY_WITH_TIMEOUT(w->routingPanel()->heatmap()->trace().length() > 0, 30000);
    QCOMPARE(w->routingPanel()->heatmap()->trace().layers.size(), size_t{2});
    // Resume continues the reopened run from its checkpoint
    QSignalSpy started(w->controller(), &TrainingController::runStarted);
    click(*w, w->resumeAction());
    QTRY_VERIFY_WITH_TIMEOUT(started.size() == 1, 30000);
    QCOMPARE(started.first().at(2).toInt(), saved_points_);
    click(*w, w->stopAction());
    QTRY_COMPARE_WITH_TIMEOUT(w->controller()->state(), TrainingController::State::Idle, 30000);
  }

  // The run open when the app was closed is open again at the next start; one moved away since is not.
  void theLastRunComesBackAtStart() {
    QVERIFY(!saved_run_.isEmpty());
    auto w = window(corpus_);
    QVERIFY(open_run(*w, saved_run_));
    w->close();
    w = window(corpus_);
    QSignalSpy opened(w.get(), &MainWindow::runOpened);
    QVERIFY(w->reopenLastRun());
    QVERIFY(opened.wait(30000));
    QCOMPARE(opened.first().at(0).toString(), saved_run_);
    QVERIFY(opened.first().at(1).toBool());
    QSettings().setValue("lastRun", tmp_.filePath("moved-away"));
    QVERIFY(!w->reopenLastRun());
    QSettings().clear();
  }

  void exportAllFiguresRunsOffTheGuiThread() {
    QVERIFY(!saved_run_.isEmpty());
    auto w = window(corpus_);
    QVERIFY(open_run(*w, saved_run_));
    QSignalSpy done(w.get(), &MainWindow::figuresExported);
    QVERIFY(w->exportAllFigures());
    QVERIFY(!w->exportAllFigures());  // one export at a time
    QVERIFY(done.isEmpty());          // it returned before the files were written
    QTRY_COMPARE_WITH_TIMEOUT(done.size(), 1, 60000);
    QCOMPARE(done.first().at(1).toString(), QString());
    QCOMPARE(w->statusBar()->currentMessage(), QString());  // "Exporting…" ended with the export
    const QStringList files = done.first().at(0).toStringList();
    QVERIFY(files.contains(saved_run_ + "/figures/loss.pdf"));
    for (const QString& f : files) QVERIFY2(QFileInfo(f).size() > 0, qPrintable(f));
    // the chart on screen and the exported figure come from the same spec (the run is named in both), and a
    // heatmap exported from the Routing tab names the run (unnamed: its routing and start), the snapshot's step
    const QString run = QString::fromStdString(read_display_name(saved_run_.toStdString()));
    QVERIFY2(run.startsWith("top-2 · N 4 · "), qPrintable(run));
    QVERIFY(w->trainingPanel()->lossChart()->spec().subtitle.startsWith(run));
    const auto figure = w->routingPanel()->heatmap()->exportFigure();
    const auto* routing = dynamic_cast<const RoutingFigure*>(figure.get());
    QVERIFY(routing && !routing->trace().empty());
    QVERIFY2(routing->view().subtitle.startsWith(run + " · step "), qPrintable(routing->view().subtitle));
    QVERIFY(w->routingPanel()->affinityView()->exportFigure()->name().startsWith("affinity_L"));
  }

  void nanLossPausesAndSaysWhere() {
    auto w = window(corpus_);
    Config c = tiny_gui_config();
    c.learning_rate = 1000, c.min_lr = 1, c.warmup_iters = 0, c.grad_clip = 0;
    w->configPanel()->setConfig(c);
    click(*w, w->startAction());
    QTRY_COMPARE_WITH_TIMEOUT(w->controller()->state(), TrainingController::State::Paused, 60000);
    QVERIFY2(w->errorMessage().contains(QRegularExpression("became (NaN|infinite) at step \\d+")),
             qPrintable(w->errorMessage()));
    // Resume must not continue from the damaged weights: the worker went back to the last checkpoint
    QVERIFY2(w->errorMessage().contains("rolled back to the checkpoint of step 0"), qPrintable(w->errorMessage()));
    click(*w, w->stopAction());
    QTRY_COMPARE_WITH_TIMEOUT(w->controller()->state(), TrainingController::State::Idle, 30000);
  }

  void openingACorruptRunShowsAnError() {
    auto w = window(corpus_);
    const QString bad = tmp_.filePath("not_a_run");
    QDir().mkpath(bad);
    QVERIFY(!open_run(*w, bad));
    QVERIFY(w->errorMessage().contains("Cannot open the run"));
  }
};

QTEST_MAIN(TestGui)
#include "tst_gui.moc"
