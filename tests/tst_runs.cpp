// The Runs tab: names and tags kept in the run folder (and the folder keeps its name), the filter, delete
// (confirmed, never a run that trains), the Kind and Status columns, one colour per run whatever is selected,
// the runs directory read off the GUI thread (by default the CLI's), and the offer to resume the run the last
// session left training.
// Run folders are written by hand (config.json, metrics.csv, a checkpoint file) except for the resume offer,
// which trains tiny runs through the main window.
#include <QtTest>

#include <QAction>
#include <QApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineEdit>
#include <QMessageBox>
#include <QPainter>
#include <QPushButton>
#include <QComboBox>
#include <QTabWidget>
#include <QCheckBox>
#include <QProgressBar>
#include <QRadioButton>
#include <QSpinBox>
#include <QTableWidget>

#include <sys/stat.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "core/base/files.h"
#include "core/runs/metrics_csv.h"
#include "core/runs/run_lock.h"
#include "core/runs/run_summary.h"
#include "core/train/training.h"
#include "test_corpus.h"
#include "ui/generation/generation_panel.h"
#include "ui/runs/derived_run_dialog.h"
#include "ui/shell/main_window.h"

using namespace moewb;

namespace {

Config dense() {
  Config c;
  c.ffn = Ffn::dense;
  c.n_layer = 1, c.max_iters = 100;
  return c;
}

Config moe(RoutingMode routing, int experts, int k = 1) {
  Config c = dense();
  c.ffn = Ffn::moe, c.routing = routing, c.n_experts = experts, c.top_k = k;
  return c;
}

// A run folder as the trainer leaves it: config.json, metrics.csv with rows at steps 0 and last_step (none when
// last_step < 0) and checkpoints/latest.pt when `checkpoint` (the table only looks whether it is there).
void make_run(const QString& dir, const Config& c, int last_step, bool checkpoint) {
  QVERIFY(QDir().mkpath(dir + "/checkpoints"));
  atomic_write(dir.toStdString() + "/config.json", to_json(c) + "\n");
  std::string csv;
  for (const auto& column : metrics_columns(c)) csv += (csv.empty() ? "" : ",") + column;
  csv += "\n";
  for (int step : {0, last_step}) {
    if (last_step < 0) break;
    MetricsRow row;
    row.step = step, row.elapsed_s = step, row.val_loss = 3.0 - step * 0.01, row.eval_train_loss = 2.9 - step * 0.01;
    csv += format_metrics_row(c, row);
  }
  atomic_write(dir.toStdString() + "/metrics.csv", csv);
  if (checkpoint) atomic_write(dir.toStdString() + "/checkpoints/latest.pt", "weights");
}

// A panel showing `root`, or null when its first scan did not report.
std::unique_ptr<RunsPanel> panel_on(const QString& root) {
  auto panel = std::make_unique<RunsPanel>();
  QSignalSpy refreshed(panel.get(), &RunsPanel::refreshed);
  panel->setRunsDirectory(root);
  return refreshed.wait(30000) ? std::move(panel) : nullptr;
}

int row_of(const RunsPanel& panel, const QString& dir) {
  for (int r = 0; r < panel.table()->rowCount(); ++r)
    if (panel.table()->item(r, 0)->data(Qt::UserRole).toString() == dir) return r;
  return -1;
}

// The text in the run's row under the column titled `column`.
QString cell(const RunsPanel& panel, const QString& dir, const QString& column) {
  const QTableWidget* t = panel.table();
  for (int c = 0; c < t->columnCount(); ++c)
    if (t->horizontalHeaderItem(c)->text() == column) return row_of(panel, dir) < 0 ? "no row" : t->item(row_of(panel, dir), c)->text();
  return "no column " + column;
}

QColor series_color(const RunsPanel& panel, const QString& dir) {
  const PlotSeries* s = panel.lossOverlay()->spec().find(panel.displayName(dir));
  return s ? s->color : QColor();
}

Config tiny_training_config(int iterations) {
  Config c;
  c.n_layer = 1, c.n_head = 2, c.n_embd = 16, c.block_size = 16, c.batch_size = 4;
  c.ffn = Ffn::moe, c.n_experts = 2, c.top_k = 1;
  c.max_iters = iterations, c.lr_decay_iters = iterations, c.warmup_iters = 1;
  c.eval_interval = 1000, c.eval_iters = 1, c.log_interval = 1;
  return c;
}

}  // namespace

class TestRuns : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString corpus_;

  std::unique_ptr<MainWindow> window() {
    auto w = std::make_unique<MainWindow>(corpus_);
    w->setRunsDirectory(tmp_.filePath("window_runs"));
    return w;
  }

 private Q_SLOTS:
  void initTestCase() {
    // the trash that deleted runs go to lives in the temporary folder too (QFile::moveToTrash uses the home's)
    qputenv("HOME", tmp_.path().toUtf8());
    // the default runs directory (the CLI's too) is under the temporary folder
    qputenv("XDG_DATA_HOME", tmp_.filePath("data").toUtf8());
    qunsetenv("MOEWB_RUNS_DIR");
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("moewb-tests-runs");
    QSettings().clear();
    corpus_ = tmp_.filePath("corpus.txt");
    atomic_write(corpus_.toStdString(), synthetic_corpus(6000));
  }

  void kindNamesRoutingExpertsAndCapacity_data() {
    QTest::addColumn<QString>("overrides");
    QTest::addColumn<QString>("kind");
    QTest::newRow("dense") << "ffn=dense" << "dense";
    QTest::newRow("softmax") << "ffn=moe routing=softmax n_experts=4" << "softmax N=4";
    QTest::newRow("top-k") << "ffn=moe routing=topk n_experts=8 top_k=2" << "top-2 of 8";
    QTest::newRow("top-k with capacity")
        << "ffn=moe routing=topk n_experts=4 top_k=2 use_capacity=true capacity_factor=0.5" << "top-2 of 4 cf=0.5";
    QTest::newRow("sigmoid") << "ffn=moe routing=sigmoid n_experts=16" << "sigmoid N=16";
    QTest::newRow("hash") << "ffn=moe routing=hash n_experts=8" << "hash N=8";
    QTest::newRow("linear experts") << "ffn=moe routing=topk n_experts=4 top_k=1 expert_shape=linear"
                                    << "top-1 of 4 (linear)";
  }
  void kindNamesRoutingExpertsAndCapacity() {
    QFETCH(QString, overrides);
    QFETCH(QString, kind);
    Config c = dense();
    for (const QString& o : overrides.split(' ')) {
      const QStringList kv = o.split('=');
      QCOMPARE(apply_override(c, kv[0].toStdString(), kv[1].toStdString()), std::string());
    }
    const QString root = tmp_.filePath("kinds/" + QString(QTest::currentDataTag()).replace(' ', '_'));
    make_run(root + "/run", c, 10, true);
    auto panel = panel_on(root);
    QVERIFY(panel);
    QCOMPARE(cell(*panel, root + "/run", "Kind"), kind);
    // the comparison table names the model the same way
    const RunSummary s = summarize_run((root + "/run").toStdString());
    QCOMPARE(QString::fromStdString(comparison_table({s}).rows.at(0).at(0)), kind);
  }

  void statusSaysFinishedStoppedTrainingOrEmpty() {
    const QString root = tmp_.filePath("status");
    make_run(root + "/finished", dense(), 100, true);
    make_run(root + "/stopped", dense(), 40, true);
    make_run(root + "/training", dense(), 40, true);
    make_run(root + "/empty", dense(), -1, false);
    const RunLock live(root.toStdString() + "/training");  // as a trainer in this or another process holds it
    make_run(root + "/parallel", dense(), 100, true);  // trained on 2 ranks, then resumed on 4
    nlohmann::json run;
    run["data_parallel"] = {{{"world_size", 2}, {"from_step", 0}}, {{"world_size", 4}, {"from_step", 50}}};
    atomic_write(root.toStdString() + "/parallel/run.json", run.dump());
    make_run(root + "/experts-split", moe(RoutingMode::topk, 4, 2), 100, true);  // 2 of the 4 experts per rank
    run["data_parallel"] = {{{"world_size", 2}, {"experts_per_rank", 2}, {"from_step", 0}}};
    atomic_write(root.toStdString() + "/experts-split/run.json", run.dump());
    auto panel = panel_on(root);
    QVERIFY(panel);
    QCOMPARE(cell(*panel, root + "/experts-split", "Status"), QString("finished · 2 ranks, experts split"));
    QCOMPARE(cell(*panel, root + "/finished", "Status"), QString("finished"));
    QCOMPARE(cell(*panel, root + "/stopped", "Status"), QString("stopped (resumable)"));
    QCOMPARE(cell(*panel, root + "/training", "Status"), QString("training"));
    QCOMPARE(cell(*panel, root + "/empty", "Status"), QString("no checkpoint"));
    QCOMPARE(cell(*panel, root + "/parallel", "Status"), QString("finished · 4 ranks"));
    QVERIFY(run_folder_locked(root.toStdString() + "/training"));
    QVERIFY(!run_folder_locked(root.toStdString() + "/stopped"));
  }

  void namesAndTagsPersistInTheRunFolder() {
    const QString root = tmp_.filePath("names"), a = root + "/20261123-083012-123-topk", b = root + "/b";
    make_run(a, moe(RoutingMode::topk, 4, 2), 10, true);
    make_run(b, dense(), 10, true);
    {
      auto panel = panel_on(root);
      QVERIFY(panel);
      QCOMPARE(panel->displayName(a), QString("top-2 · N 4 · 08:30"));  // unnamed: routing and start
      QVERIFY(panel->setRunMeta(a, "baseline top-2", {"paper", "cpu"}));
      QCOMPARE(cell(*panel, a, "Run"), QString("baseline top-2"));
      QCOMPARE(cell(*panel, a, "Tags"), QString("paper, cpu"));
      // the Name cell edited in place (F2) is kept the same way
      panel->table()->item(row_of(*panel, b), 0)->setText("edited in place");
      QCOMPARE(QString::fromStdString(read_run_meta(b.toStdString()).name), QString("edited in place"));
    }
    // the file travels with the folder; the folder keeps its name
    QFile meta(a + "/meta.json");
    QVERIFY(meta.open(QIODevice::ReadOnly));
    const QJsonObject json = QJsonDocument::fromJson(meta.readAll()).object();
    QCOMPARE(json["name"].toString(), QString("baseline top-2"));
    QCOMPARE(json["tags"].toArray(), (QJsonArray{"paper", "cpu"}));
    QVERIFY(QFileInfo::exists(a + "/config.json"));
    // a new panel (as after a relaunch) reads them back, and the legends show the whole name
    auto panel = panel_on(root);
    QVERIFY(panel);
    QCOMPARE(panel->displayName(a), QString("baseline top-2"));
    QCOMPARE(panel->tags(a), (QStringList{"paper", "cpu"}));
    QCOMPARE(panel->displayName(b), QString("edited in place"));
    panel->selectRuns({a, b});
    QCOMPARE(panel->lossOverlay()->seriesNames(), (QStringList{"baseline top-2", "edited in place"}));
  }

  void filterHidesRowsThatDoNotMatch() {
    const QString root = tmp_.filePath("filter"), a = root + "/a", b = root + "/b", c = root + "/c";
    make_run(a, dense(), 10, true);
    make_run(b, moe(RoutingMode::topk, 8, 2), 10, true);
    make_run(c, moe(RoutingMode::hash, 8), 10, true);
    auto panel = panel_on(root);
    QVERIFY(panel);
    QVERIFY(panel->setRunMeta(a, "", {"paper"}));
    QVERIFY(panel->setRunMeta(c, "my hashed run", {}));
    auto visible = [&] {
      QStringList shown;
      for (const QString& dir : {a, b, c})
        if (!panel->table()->isRowHidden(row_of(*panel, dir))) shown << QFileInfo(dir).fileName();
      return shown;
    };
    panel->setFilter("paper");  // a tag
    QCOMPARE(visible(), QStringList{"a"});
    panel->setFilter("top-2");  // the kind
    QCOMPARE(visible(), QStringList{"b"});
    panel->setFilter("HASHED run");  // every word, any case, in the name
    QCOMPARE(visible(), QStringList{"c"});
    panel->findChild<QLineEdit*>("runs_filter")->setText("N=8");  // as typed
    QCOMPARE(visible(), QStringList{"c"});
    panel->findChild<QLineEdit*>("runs_filter")->setText("8");
    QCOMPARE(visible(), (QStringList{"b", "c"}));
    panel->setFilter("");
    QCOMPARE(visible(), (QStringList{"a", "b", "c"}));
  }

  void deleteAsksAndNeverTakesATrainingRun() {
    const QString root = tmp_.filePath("delete"), gone = root + "/gone", training = root + "/training";
    const QString erased = root + "/erased";
    make_run(gone, dense(), 10, true);
    make_run(training, dense(), 10, true);
    make_run(erased, dense(), 10, true);
    const QString data = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
    QVERIFY(QDir().mkpath(data));  // the home trash goes there
    auto panel = panel_on(root);
    QVERIFY(panel);
    QStringList questions;
    bool answer = false;
    panel->setConfirm([&](const QString& question) {
      questions << question;
      return answer;
    });
    // declined: nothing happens
    QVERIFY(!panel->deleteRun(gone));
    QCOMPARE(questions.size(), 1);
    QVERIFY2(questions.first().contains("trash"), qPrintable(questions.first()));
    QVERIFY(QFileInfo::exists(gone + "/config.json"));
    // confirmed: the folder goes to the trash and leaves the table
    answer = true;
    QVERIFY(panel->deleteRun(gone));
    QCOMPARE(questions.size(), 2);
    QVERIFY(!QFileInfo::exists(gone));
    QVERIFY(QFileInfo::exists(data + "/Trash/files/gone/config.json"));
    QCOMPARE(row_of(*panel, gone), -1);
    // where the trash cannot take it, a second question says the folder is deleted for good
    QVERIFY(QDir(data).removeRecursively());
    atomic_write(data.toStdString(), "not a folder");
    questions.clear();
    QVERIFY(panel->deleteRun(erased));
    QCOMPARE(questions.size(), 2);
    QVERIFY2(questions.last().contains("permanently"), qPrintable(questions.last()));
    QVERIFY(!QFileInfo::exists(erased));
    QVERIFY(!QFileInfo::exists("files/erased"));  // where Qt 6.4 leaves it when it has no trash
    QCOMPARE(panel->table()->rowCount(), 1);
    // a run that trains is refused before anything is asked
    const RunLock live(training.toStdString());
    QSignalSpy messages(panel.get(), &RunsPanel::message);
    questions.clear();
    QVERIFY(!panel->deleteRun(training));
    QVERIFY(questions.isEmpty());
    QVERIFY(QFileInfo::exists(training + "/config.json"));
    QCOMPARE(messages.size(), 1);
    QVERIFY2(messages.first().at(0).toString().contains("is training"), qPrintable(messages.first().at(0).toString()));
  }

  void aRunKeepsItsColourWhateverIsSelected() {
    const QString root = tmp_.filePath("colours"), a = root + "/a", b = root + "/b", c = root + "/c";
    // three kinds: unnamed runs of one kind without a start time would share their automatic name
    make_run(a, dense(), 10, true);
    make_run(b, moe(RoutingMode::topk, 4, 2), 10, true);
    make_run(c, moe(RoutingMode::hash, 8), 10, true);
    auto panel = panel_on(root);
    QVERIFY(panel);
    panel->selectRuns({b});
    const QColor alone = series_color(*panel, b);
    QVERIFY(alone.isValid());
    panel->selectRuns({a, b, c});
    QCOMPARE(series_color(*panel, b), alone);
    QVERIFY(series_color(*panel, a) != alone && series_color(*panel, c) != alone &&
            series_color(*panel, a) != series_color(*panel, c));
    // and after the directory is read again
    QSignalSpy refreshed(panel.get(), &RunsPanel::refreshed);
    panel->refresh();
    QVERIFY(refreshed.wait(30000));
    panel->selectRuns({c, b});
    QCOMPARE(series_color(*panel, b), alone);
  }

  // A legend entry wider than the figure wraps onto more rows instead of running off the figure's edge: painted
  // into the left part of a transparent image, nothing lands right of it.
  void theOverlayLegendShowsALongNameWhole() {
    const QString root = tmp_.filePath("legend"), a = root + "/a", b = root + "/b";
    make_run(a, dense(), 10, true);
    make_run(b, dense(), 10, true);
    auto panel = panel_on(root);
    QVERIFY(panel);
    const QString long_name = "dense baseline, seed 1337, learning rate 6e-4 with cosine decay, run on the CPU recipe";
    QVERIFY(panel->setRunMeta(a, long_name, {}));
    panel->selectRuns({a, b});
    QVERIFY(panel->lossOverlay()->seriesNames().contains(long_name));  // whole, not elided
    QImage image(600, 300, QImage::Format_ARGB32);
    image.fill(Qt::transparent);
    {
      QPainter p(&image);
      PlotFigure(panel->lossOverlay()->spec()).paint(p, QRectF(0, 0, 300, 300), FigureStyle::screen());
    }
    for (int y = 0; y < image.height(); ++y)
      for (int x = 302; x < image.width(); ++x) QCOMPARE(qAlpha(image.pixel(x, y)), 0);
  }

  // config.json is a FIFO: reading it waits until this test writes it, which it does only once refresh() has
  // returned. A scan on the GUI thread would still be waiting then; the writer gives up after 20 s and says so.
  void theRunsDirectoryIsReadOffTheGuiThread() {
    const QString root = tmp_.filePath("fifo"), dir = root + "/slow";
    make_run(dir, dense(), 10, true);
    QVERIFY(QFile::remove(dir + "/config.json"));
    QCOMPARE(mkfifo(qPrintable(dir + "/config.json"), 0600), 0);
    std::mutex mutex;
    std::condition_variable cv;
    bool returned = false, waited_in_vain = false;
    std::thread writer([&] {
      std::ofstream fifo((dir + "/config.json").toStdString());  // opens once the scan opens it for reading
      std::unique_lock<std::mutex> lock(mutex);
      waited_in_vain = !cv.wait_for(lock, std::chrono::seconds(20), [&] { return returned; });
      fifo << to_json(dense()) << "\n";
    });
    RunsPanel panel;
    QSignalSpy refreshed(&panel, &RunsPanel::refreshed);
    panel.setRunsDirectory(root);
    {
      const std::lock_guard<std::mutex> lock(mutex);
      returned = true;
    }
    cv.notify_all();
    QCOMPARE(panel.table()->rowCount(), 0);  // not yet: the table fills when the scan reports
    const bool reported = refreshed.wait(30000);
    writer.join();
    QVERIFY(!waited_in_vain);
    QVERIFY(reported);
    QCOMPARE(panel.table()->rowCount(), 1);
    QCOMPARE(cell(panel, dir, "Status"), QString("stopped (resumable)"));
  }

  // Without a chosen folder the window lists and trains into the CLI's default, $XDG_DATA_HOME/moewb/runs, so
  // runs from `moewb-cli train` appear in the Runs tab; a chosen folder is kept.
  void theDefaultRunsDirectoryIsTheClis() {
    QSettings().remove("runsDirectory");
    MainWindow w(corpus_);
    const QString expected = tmp_.filePath("data/moewb/runs");
    QCOMPARE(QString::fromStdString(default_runs_directory()), expected);
    QCOMPARE(w.runsDirectory(), expected);
    w.setRunsDirectory(tmp_.filePath("chosen"));
    QCOMPARE(w.runsDirectory(), tmp_.filePath("chosen"));
  }

  void aRefreshDuringAScanIsDoneAfterIt() {
    const QString root = tmp_.filePath("rescan");
    make_run(root + "/first", dense(), 10, true);
    RunsPanel panel;
    QSignalSpy refreshed(&panel, &RunsPanel::refreshed);
    panel.setRunsDirectory(root);
    make_run(root + "/second", dense(), 10, true);  // may be listed by the running scan, or not
    panel.refresh();
    QVERIFY(refreshed.wait(30000));
    QCOMPARE(refreshed.size(), 1);  // one report, after the queued scan
    QCOMPARE(panel.table()->rowCount(), 2);
  }

  // ---------------------------------------------------------------------------------------------------
  void theRunTheLastSessionLeftTrainingIsOffered_data() {
    QTest::addColumn<bool>("quit");
    QTest::newRow("quit during training") << true;
    QTest::newRow("window gone during training") << false;
  }
  void theRunTheLastSessionLeftTrainingIsOffered() {
    QFETCH(bool, quit);
    QString run;
    {
      auto w = window();
      w->configPanel()->setConfig(tiny_training_config(100000));
      QSignalSpy started(w->controller(), &TrainingController::runStarted);
      QSignalSpy steps(w->controller(), &TrainingController::stepDone);
      QSignalSpy ended(w->controller(), &TrainingController::runEnded);
      w->startTraining();
      QTRY_VERIFY_WITH_TIMEOUT(steps.size() >= 2, 60000);
      run = started.first().at(0).toString();
      if (quit) {
        // File → Quit answers "Stop training and quit?" with Yes; the run then ends cleanly, unfinished
        QTimer::singleShot(0, w.get(), [] {
          if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget()))
            box->button(QMessageBox::Yes)->click();
        });
        QVERIFY(w->close());
        QTRY_COMPARE_WITH_TIMEOUT(ended.size(), 1, 60000);
      }
    }  // without quitting: gone mid-training, as after a crash (the checkpoint is written on the way out)
    auto w = window();
    QCOMPARE(w->interruptedRun(), run);
    QStringList asked;
    w->offerResume([&](const QString& dir) {
      asked << dir;
      return MainWindow::ResumeChoice::Open;
    });
    QCOMPARE(asked, QStringList{run});
    // the run is read off the GUI thread, then shown
    QTRY_VERIFY2_WITH_TIMEOUT(w->windowTitle().endsWith(QString::fromStdString(read_display_name(run.toStdString()))),
                              qPrintable(w->windowTitle()), 30000);
    QVERIFY(w->resumeAction()->isEnabled());
    QCOMPARE(w->interruptedRun(), QString());  // offered once
    w.reset();
    QCOMPARE(window()->interruptedRun(), QString());  // also not at the next launch
  }

  void aRunThatEndedInTheSessionIsNotOffered_data() {
    QTest::addColumn<bool>("finish");
    QTest::newRow("finished") << true;
    QTest::newRow("stopped by the user") << false;
  }
  void aRunThatEndedInTheSessionIsNotOffered() {
    QFETCH(bool, finish);
    {
      auto w = window();
      w->configPanel()->setConfig(tiny_training_config(finish ? 4 : 100000));
      QSignalSpy steps(w->controller(), &TrainingController::stepDone);
      QSignalSpy ended(w->controller(), &TrainingController::runEnded);
      w->startTraining();
      QTRY_VERIFY_WITH_TIMEOUT(steps.size() >= 2, 60000);
      if (!finish) w->controller()->stop();
      QTRY_COMPARE_WITH_TIMEOUT(ended.size(), 1, 60000);
      QCOMPARE(ended.first().at(0).toBool(), finish);
    }
    QCOMPARE(window()->interruptedRun(), QString());
  }

  // A run the window trained lets go of its folder when it ends: its row says finished or stopped at once (it
  // said "training" until the app quit), and the weights it ended with still generate, which records the run's
  // generation speed in its row. A paused run keeps the folder (it resumes).
  void aRunThatEndsInTheAppShowsItsTrueStatus_data() {
    QTest::addColumn<bool>("finish");
    QTest::newRow("finished") << true;
    QTest::newRow("paused, then stopped") << false;
  }
  void aRunThatEndsInTheAppShowsItsTrueStatus() {
    QFETCH(bool, finish);
    auto w = window();
    w->configPanel()->setConfig(tiny_training_config(finish ? 4 : 100000));
    QSignalSpy started(w->controller(), &TrainingController::runStarted);
    QSignalSpy steps(w->controller(), &TrainingController::stepDone);
    QSignalSpy ended(w->controller(), &TrainingController::runEnded);
    w->startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(steps.size() >= 2, 60000);
    const QString run = started.first().at(0).toString();
    RunsPanel& runs = *w->runsPanel();
    if (!finish) {
      w->controller()->pause();
      QTRY_COMPARE_WITH_TIMEOUT(w->controller()->state(), TrainingController::State::Paused, 60000);
      QVERIFY(run_folder_locked(run.toStdString()));
      QTRY_COMPARE_WITH_TIMEOUT(cell(runs, run, "Status"), QString("training"), 30000);
      w->controller()->stop();
    }
    QTRY_COMPARE_WITH_TIMEOUT(ended.size(), 1, 60000);
    QVERIFY(!run_folder_locked(run.toStdString()));  // already when the end is announced
    QTRY_COMPARE_WITH_TIMEOUT(cell(runs, run, "Status"), QString(finish ? "finished" : "stopped (resumable)"), 30000);
    if (!finish) return;
    QCOMPARE(cell(runs, run, "Gen chars/s"), QString("—"));
    QSignalSpy generated(w->generationPanel(), &GenerationPanel::finished);
    Q_EMIT w->generationPanel()->modelRequested();  // what Generate does
    QVERIFY(generated.wait(60000));
    QTRY_VERIFY2_WITH_TIMEOUT(cell(runs, run, "Gen chars/s").toDouble() > 0, qPrintable(cell(runs, run, "Gen chars/s")),
                              30000);
    QCOMPARE(cell(runs, run, "Gen chars/s"),
             QString::number(summarize_run(run.toStdString()).generation_tokens_per_sec, 'f', 0));
  }

  // Generating with an opened run's checkpoint records the speed in its summary.json, as the paper experiment
  // does, with the KV cache; without the cache (another measurement) the column keeps what it has.
  void generatingRecordsTheRunsGenerationSpeed() {
    const QString root = tmp_.filePath("generation_speed"), dir = root + "/made";
    {
      auto t = Trainer::create(tiny_training_config(3), TextDataset::from_file(corpus_.toStdString()), dir.toStdString(),
                               corpus_.toStdString());
      while (!t->done()) t->advance();
    }
    auto w = window();
    w->setRunsDirectory(root);
    QSignalSpy opened(w.get(), &MainWindow::runOpened);
    QVERIFY(w->openRun(dir));
    QVERIFY(opened.wait(30000));
    QTRY_COMPARE_WITH_TIMEOUT(cell(*w->runsPanel(), dir, "Gen chars/s"), QString("—"), 30000);
    GenerationPanel* generation = w->generationPanel();
    QCheckBox* cache = generation->findChild<QCheckBox*>();
    QVERIFY(cache && cache->isChecked());
    QSignalSpy generated(generation, &GenerationPanel::finished);
    QSignalSpy recorded(generation, &GenerationPanel::speedRecorded);
    cache->setChecked(false);
    Q_EMIT generation->modelRequested();
    QVERIFY(generated.wait(60000));
    QVERIFY(!QFileInfo::exists(dir + "/summary.json"));
    cache->setChecked(true);
    Q_EMIT generation->modelRequested();
    QVERIFY(recorded.wait(60000));
    QCOMPARE(recorded.first().at(0).toString(), dir);
    const auto summary = nlohmann::json::parse(read_file(dir.toStdString() + "/summary.json"));
    QCOMPARE(summary.at("convention").get<std::string>(), std::string("characters per second, KV cache, batch 1, 500 characters"));
    QTRY_VERIFY_WITH_TIMEOUT(cell(*w->runsPanel(), dir, "Gen chars/s").toDouble() > 0, 30000);
  }

  // A run the user has not named says what it is — routing, experts, capacity factor, start time — rather than
  // its folder's name, which differs from the others only by a time stamp; a name the user gives replaces it and
  // the folder keeps its name.
  void anUnnamedRunSaysWhatItIs_data() {
    QTest::addColumn<QString>("overrides");
    QTest::addColumn<QString>("name");
    QTest::newRow("dense") << "ffn=dense" << "dense · 15:17";
    QTest::newRow("softmax") << "ffn=moe routing=softmax n_experts=4" << "softmax · N 4 · 15:17";
    QTest::newRow("sigmoid") << "ffn=moe routing=sigmoid n_experts=4 sigmoid_tau=0.5" << "sigmoid τ 0.5 · N 4 · 15:17";
    QTest::newRow("hash") << "ffn=moe routing=hash n_experts=4" << "hash · N 4 · 15:17";
    QTest::newRow("top-2") << "ffn=moe routing=topk n_experts=4 top_k=2" << "top-2 · N 4 · 15:17";
    QTest::newRow("top-2 with capacity")
        << "ffn=moe routing=topk n_experts=4 top_k=2 use_capacity=true capacity_factor=1.0" << "top-2 · N 4 · cf 1.0 · 15:17";
  }
  void anUnnamedRunSaysWhatItIs() {
    QFETCH(QString, overrides);
    QFETCH(QString, name);
    Config c = dense();
    for (const QString& o : overrides.split(' ')) {
      const QStringList kv = o.split('=');
      QCOMPARE(apply_override(c, kv[0].toStdString(), kv[1].toStdString()), std::string());
    }
    const QString root = tmp_.filePath("auto_names/" + QString(QTest::currentDataTag()).replace(' ', '_'));
    const QString stamped = root + "/20261206-151712-345-topk", logged = root + "/imported";
    make_run(stamped, c, 10, true);
    make_run(logged, c, 10, true);  // no stamp in its name: the time comes from its log's first line
    atomic_write(logged.toStdString() + "/train.log", "2026-12-06 15:17:40.123 info    run imported started on cpu\n");
    auto panel = panel_on(root);
    QVERIFY(panel);
    QCOMPARE(cell(*panel, stamped, "Run"), name);
    QCOMPARE(cell(*panel, logged, "Run"), name);
    QVERIFY(panel->setRunMeta(stamped, "my baseline", {}));
    QCOMPARE(cell(*panel, stamped, "Run"), QString("my baseline"));
    QVERIFY(QFileInfo::exists(stamped + "/config.json"));  // the folder keeps its name
    QVERIFY(panel->setRunMeta(stamped, "", {}));           // no name: the automatic one again
    QCOMPARE(cell(*panel, stamped, "Run"), name);
  }

  // At 1280 x 800 the Runs tab shows what tells runs apart (name, status, steps, best validation loss, kind)
  // without scrolling: the table spans the tab above the overlays, and a long name is elided with the whole of it
  // in the tooltip. Beside the overlays it had room for two columns.
  void theImportantColumnsFitAt1280x800() {
    const QString root = tmp_.filePath("columns");
    const QString long_name = "a run with a very long name that the user typed to remember what it was about";
    for (const QString& folder : {"20261206-153012-123-topk", "20261206-160144-456-dense", "20261206-171533-789-hash"})
      make_run(root + "/" + folder, moe(RoutingMode::topk, 8, 2), 2000, true);
    auto w = window();
    w->setRunsDirectory(root);
    w->setWindowState(Qt::WindowNoState);
    w->resize(1280, 800);
    w->show();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    RunsPanel* runs = w->runsPanel();
    QTabWidget* tabs = nullptr;
    for (QWidget* p = runs->parentWidget(); p && !tabs; p = p->parentWidget()) tabs = qobject_cast<QTabWidget*>(p);
    QVERIFY(tabs);
    tabs->setCurrentIndex(tabs->indexOf(runs));
    QTRY_COMPARE_WITH_TIMEOUT(runs->table()->rowCount(), 3, 30000);
    const QString named = root + "/20261206-153012-123-topk";
    QVERIFY(runs->setRunMeta(named, long_name, {}));
    QSignalSpy refreshed(runs, &RunsPanel::refreshed);
    runs->refresh();
    QVERIFY(refreshed.wait(30000));
    QTableWidget* t = runs->table();
    const int visible = t->viewport()->width();
    for (const QString& column : {"Run", "Status", "Steps", "Best val", "Kind"}) {
      int c = 0;
      while (c < t->columnCount() && t->horizontalHeaderItem(c)->text() != column) ++c;
      QVERIFY2(c < t->columnCount(), qPrintable(column));
      QVERIFY2(t->columnViewportPosition(c) >= 0 && t->columnViewportPosition(c) + t->columnWidth(c) <= visible,
               qPrintable(QString("%1 at %2 + %3 of %4").arg(column).arg(t->columnViewportPosition(c))
                              .arg(t->columnWidth(c)).arg(visible)));
    }
    const QTableWidgetItem* name = t->item(row_of(*runs, named), 0);
    QVERIFY(t->fontMetrics().horizontalAdvance(long_name) > t->columnWidth(0));  // elided on screen
    QVERIFY2(name->toolTip().contains(long_name), qPrintable(name->toolTip()));
  }

  // Prune and upcycle from the Runs tab: the dialog measures off the GUI thread (closing waits for it), reports
  // what changed, the new run appears in the table with its parameters and origin, and "Open and fine-tune" asks
  // for it.
  void theDialogMakesPrunedAndUpcycledRuns_data() {
    QTest::addColumn<bool>("prune");
    QTest::newRow("prune a top-2 run") << true;
    QTest::newRow("upcycle a dense run") << false;
  }
  void theDialogMakesPrunedAndUpcycledRuns() {
    QFETCH(bool, prune);
    const QString root = tmp_.filePath(prune ? "prune_runs" : "upcycle_runs"), source = root + "/source";
    Config c = tiny_training_config(4);
    c.n_experts = 4, c.top_k = 2, c.eval_interval = 2;
    if (!prune) c.ffn = Ffn::dense;
    {
      auto t = Trainer::create(c, TextDataset::from_file(corpus_.toStdString()), source.toStdString(),
                               corpus_.toStdString());
      while (!t->done()) t->advance();
    }
    auto panel = panel_on(root);
    QVERIFY(panel);
    DerivedRunDialog* dialog = panel->deriveFrom(source);
    QVERIFY(dialog);
    QCOMPARE(dialog->prunes(), prune);
    if (prune) {
      dialog->removeCount()->setChecked(true);
      QVERIFY(dialog->removePerLayer()->isEnabled() && !dialog->minShare()->isEnabled());
      dialog->removePerLayer()->setValue(1);
    } else {
      dialog->method()->setCurrentIndex(1);  // copy
      dialog->experts()->setValue(3);
    }
    dialog->finetuneSteps()->setValue(3);
    QSignalSpy created(dialog, &DerivedRunDialog::created);
    QSignalSpy refreshed(panel.get(), &RunsPanel::refreshed);
    dialog->create();
    QVERIFY(created.wait(60000));
    const QString made = created.first().at(0).toString();
    QCOMPARE(made, source + (prune ? "-pruned" : "-upcycled"));
    QVERIFY2(dialog->reportText().contains("Validation loss"), qPrintable(dialog->reportText()));
    QVERIFY(!dialog->fineTuneButton()->isHidden());
    const RunSummary summary = summarize_run(made.toStdString());
    QCOMPARE(summary.config.n_experts, 3);
    QCOMPARE(summary.config.max_iters, 3);
    QCOMPARE(summary.config.expert_hidden, prune ? 16 : 64);  // d = 16: 4d/4 kept, or the whole 4d copied
    QTRY_VERIFY_WITH_TIMEOUT(row_of(*panel, made) >= 0, 30000);
    QVERIFY(cell(*panel, made, "Derived from").startsWith(prune ? "pruned from source" : "upcycled from source"));
    QCOMPARE(cell(*panel, made, "Parameters").remove(QLocale().groupSeparator()).toLongLong(),
             static_cast<qlonglong>(dialog->report().parameters_after));
    QSignalSpy fineTune(panel.get(), &RunsPanel::fineTuneRequested);
    dialog->fineTuneButton()->click();
    QCOMPARE(fineTune.size(), 1);
    QCOMPARE(fineTune.first().at(0).toString(), made);
  }

  // A run another process writes (here a trainer on this thread, which holds the folder's lock) is followed: its
  // charts and snapshots grow as it writes, the state says who writes, Resume stays off; when the writer lets go,
  // following ends and the stopped run can be resumed here.
  void aRunBeingWrittenIsFollowed() {
    const QString dir = tmp_.filePath("followed");
    Config c = tiny_training_config(40);
    c.eval_interval = 10;
    auto writer = Trainer::create(c, TextDataset::from_file(corpus_.toStdString()), dir.toStdString(),
                                  corpus_.toStdString());
    for (int i = 0; i < 3; ++i) writer->advance();  // the evaluation at step 0, then two steps
    auto w = window();
    w->follower()->setInterval(20);
    QSignalSpy opened(w.get(), &MainWindow::runOpened);
    QVERIFY(w->openRun(dir));
    QVERIFY(opened.wait(30000));
    QVERIFY(opened.first().at(1).toBool());
    QVERIFY(w->follower()->following());
    const QString holder = QString("pid %1 on ").arg(QCoreApplication::applicationPid());
    QVERIFY2(w->follower()->writer().startsWith(holder), qPrintable(w->follower()->writer()));
    QVERIFY2(w->stateIndicator()->detail().startsWith("following — written by " + holder),
             qPrintable(w->stateIndicator()->detail()));
    QVERIFY(!w->resumeAction()->isEnabled());
    QCOMPARE(w->routingPanel()->snapshotCount(), 1);
    QCOMPARE(w->trainingPanel()->history().val_loss.size(), 1);

    while (writer->step() < 25) writer->advance();  // evaluations at 10 and 20
    QTRY_COMPARE_WITH_TIMEOUT(w->progressBar()->value(), 25, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(w->routingPanel()->snapshotCount(), 3, 10000);
    QCOMPARE(w->trainingPanel()->history().val_loss.size(), 3);
    QCOMPARE(w->trainingPanel()->history().train_loss.size(), 25);
    QVERIFY2(w->stateIndicator()->detail().startsWith("following — written by " + holder),
             qPrintable(w->stateIndicator()->detail()));  // still following: the step is the progress bar's

    writer->save_latest();
    writer.reset();  // the writer lets go of the folder
    QTRY_VERIFY_WITH_TIMEOUT(!w->follower()->following(), 10000);
    QVERIFY(w->stateIndicator()->detail().contains("Resume continues"));
    QVERIFY(w->resumeAction()->isEnabled());
  }

  // A followed writer that fails says why: the error its trainer wrote last into train.log.
  void aFollowedRunThatFailsSaysWhy() {
    const QString dir = tmp_.filePath("followed-failing");
    auto writer = Trainer::create(tiny_training_config(40), TextDataset::from_file(corpus_.toStdString()),
                                  dir.toStdString(), corpus_.toStdString());
    writer->advance();
    auto w = window();
    w->show();  // the error bar is a visible widget's
    w->follower()->setInterval(20);
    QSignalSpy opened(w.get(), &MainWindow::runOpened);
    QVERIFY(w->openRun(dir));
    QVERIFY(opened.wait(30000));
    QVERIFY(w->follower()->following());
    // as Trainer::advance logs what it throws (tst_training checks that), LibTorch's backtrace included
    writer->log().error("the training loss became nan at step 2 (stopped before applying it)\nException raised "
                        "from forward at gpt.cpp:10\nframe #0: ...");
    writer.reset();
    QTRY_VERIFY_WITH_TIMEOUT(!w->follower()->following(), 10000);
    QCOMPARE(w->stateIndicator()->detail(), "its writer failed — Resume continues from the last checkpoint");
    QCOMPARE(w->errorMessage(), "The process writing 'followed-failing' failed: the training loss became nan at "
                                        "step 2 (stopped before applying it)\nResume continues the run here from its "
                                        "last checkpoint.");
  }
};

QTEST_MAIN(TestRuns)
#include "tst_runs.moc"
