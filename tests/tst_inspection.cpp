// The workbench as a user meets it on real screens: the window fits 1280 x 800, 1920 x 1080 and 200 % scale
// with Compare on and the paper suite running; the mouse wheel never edits an unfocused field; the state
// indicator follows the trainer through every transition (with immediate feedback on Pause and Stop); ETA and
// tokens/s clear when training is not running; a finished run says so; the suite's current run is shown live.
#include <QtTest>

#include <QAction>
#include <QLabel>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QToolButton>

#include "files.h"
#include "main_window.h"
#include "routing_panel.h"
#include "test_corpus.h"

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
    QTRY_VERIFY_WITH_TIMEOUT(w->windowTitle().contains("2-softmax") && w->routingPanel()->snapshotCount() >= 2, 60000);
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

  void theSuitesCurrentRunIsShownLive() {
    auto w = window();
    w->runsPanel()->startSuite(tiny_config(), corpus_);
    QTRY_COMPARE_WITH_TIMEOUT(w->stateIndicator()->phase(), RunPhase::Training, 30000);
    QVERIFY2(w->stateIndicator()->detail().contains("run 1 of 5"), qPrintable(w->stateIndicator()->detail()));
    QVERIFY2(w->windowTitle().contains("1-dense"), qPrintable(w->windowTitle()));  // the suite's first variant
    QTRY_VERIFY_WITH_TIMEOUT(w->trainingPanel()->history().train_loss.size() >= 3, 30000);
    QTRY_VERIFY_WITH_TIMEOUT(labelText(*w, "Step ").size() > 5, 30000);
    w->runsPanel()->stopSuite();
    QTRY_COMPARE_WITH_TIMEOUT(w->stateIndicator()->phase(), RunPhase::Stopped, 60000);
  }
};

QTEST_MAIN(TestInspection)
#include "tst_inspection.moc"
