#include "ui/shell/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QInputDialog>
#include <QLabel>
#include <QLocale>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QStatusBar>
#include <QScreen>
#include <QScrollArea>
#include <QStyle>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/base/files.h"
#include "core/model/machine.h"
#include "core/runs/metrics_csv.h"
#include "core/runs/run_folder.h"
#include "core/runs/run_summary.h"
#include "ui/render/run_figures.h"
#include "ui/routing/intervention_panel.h"
#include "ui/shell/wheel_guard.h"

namespace moewb {

namespace {

QString format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "—";
  const qint64 s = static_cast<qint64>(seconds);
  if (s >= 3600) return QString("%1 h %2 min").arg(s / 3600).arg((s / 60) % 60);
  if (s >= 60) return QString("%1 min %2 s").arg(s / 60).arg(s % 60);
  return QString("%1 s").arg(s);
}

constexpr int kValidationSliceChars = 20000;  // validation text offered to the Routing panel
// The run being trained, in the settings from its start until it ends or the user stops it: still there at the
// next launch when the session quit or crashed during training.
const char* kTrainingRunKey = "trainingRun";
const char* kLastRunKey = "lastRun";
const char* kThreadsKey = "trainingThreads";  // 0: every core but one

// A view that needs more room than the window has scrolls instead of growing the window past the screen.
// Said where a model was asked for before there was one; taken back as soon as there is one.
const QString kNoModel = "Train a model or open a run first: there is no model yet.";

QScrollArea* scrolled(QWidget* content) {
  auto* area = new QScrollArea;
  area->setWidget(content);
  area->setWidgetResizable(true);
  area->setFrameShape(QFrame::NoFrame);
  return area;
}

// `content` scrolls as a whole unless it scrolls its own body (a scroll area inside another gave two scroll bars)
QDockWidget* dock(const QString& title, const QString& name, QWidget* content, bool scrollsItself = false) {
  auto* d = new QDockWidget(title);
  d->setObjectName(name);
  d->setWidget(scrollsItself ? content : scrolled(content));
  d->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable | QDockWidget::DockWidgetClosable);
  return d;
}

MainWindow::ResumeChoice ask_resume(QWidget* parent, const QString& run) {
  QMessageBox box(QMessageBox::Question, "Interrupted run",
                  QString("The last session ended while %1 was training.\n\nResume the interrupted run?")
                      .arg(QFileInfo(run).fileName()),
                  QMessageBox::NoButton, parent);
  auto* resume = box.addButton("Resume", QMessageBox::AcceptRole);
  auto* open = box.addButton("Open", QMessageBox::ActionRole);
  box.addButton("Ignore", QMessageBox::RejectRole);
  box.setDefaultButton(resume);
  box.exec();
  if (box.clickedButton() == resume) return MainWindow::ResumeChoice::Resume;
  return box.clickedButton() == open ? MainWindow::ResumeChoice::Open : MainWindow::ResumeChoice::Ignore;
}

}  // namespace

MainWindow::MainWindow(const QString& defaultDataset, QWidget* parent)
    : QMainWindow(parent),
      config_(new ConfigPanel),
      training_(new TrainingPanel),
      generation_(new GenerationPanel),
      routing_(new RoutingPanel),
      runs_(new RunsPanel),
      follower_(new RunFollower(this)),
      controller_(new TrainingController(this)) {
  setWindowTitle("MoE Routing Workbench");
  setAcceptDrops(true);
  setDockNestingEnabled(true);
  buildCentralWidget();
  buildActions();
  buildDocks();
  buildStatusBar();
  applyTrainingThreads();
  connectController();
  connectGeneration();
  connectFollower();
  connectRunsPanel();
  connectSuite();
  rememberTrainingRun();
  connectModelRequests();
  for (QWidget* panel : std::initializer_list<QWidget*>{config_, generation_, training_, routing_, runs_})
    guard_wheel_events(panel);
  config_->selectPreset(QString::fromStdString(machine_preset()));
  restoreSettings();
  training_->reset(config_->config());
  runs_->setRunsDirectory(runsDirectory());
  if (dataset_path_.isEmpty() && !openDataset(defaultDataset))
    dataset_label_->setText("No dataset: File → Open dataset…, or drop a text file here");
  updateActions();
}

void MainWindow::buildCentralWidget() {
  banner_ = new NoticeBar;
  // Training, Routing and Runs share the centre as tabs: each needs the full height (charts, heatmaps, tables).
  views_ = new QTabWidget;
  views_->setObjectName("views");
  views_->setDocumentMode(true);
  views_->addTab(scrolled(training_), "Training");
  views_->addTab(scrolled(routing_), "Routing");
  views_->addTab(scrolled(runs_), "Runs");
  auto* central = new QWidget;
  auto* layout = new QVBoxLayout(central);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(banner_);
  layout->addWidget(views_, 1);
  setCentralWidget(central);
}

void MainWindow::buildStatusBar() {
  state_ = new RunStateIndicator;
  dataset_label_ = new QLabel;
  // the dataset's description may be long: it gives way (clipped, full text in the tooltip) instead of widening
  // the window
  dataset_label_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  device_label_ = new QLabel;
  step_label_ = new QLabel;
  rate_label_ = new QLabel;
  eta_label_ = new QLabel;
  progress_ = new QProgressBar;
  progress_->setMaximumWidth(220);
  progress_->setTextVisible(true);
  statusBar()->addWidget(dataset_label_, 1);
  statusBar()->addPermanentWidget(state_);  // permanent: temporary status messages must not hide it
  statusBar()->addPermanentWidget(step_label_);
  statusBar()->addPermanentWidget(rate_label_);
  statusBar()->addPermanentWidget(eta_label_);
  statusBar()->addPermanentWidget(progress_);
  statusBar()->addPermanentWidget(device_label_);
}

void MainWindow::connectController() {
  connect(config_, &ConfigPanel::configChanged, this, [this](const Config&, bool valid) {
    config_valid_ = valid;
    updateActions();
  });
  connect(controller_, &TrainingController::stateChanged, this, &MainWindow::onStateChanged);
  connect(controller_, &TrainingController::runStarted, this, &MainWindow::onRunStarted);
  connect(controller_, &TrainingController::stepDone, this, &MainWindow::onStep);
  connect(controller_, &TrainingController::stepDone, training_, &TrainingPanel::addStep);
  connect(controller_, &TrainingController::evalDone, training_, &TrainingPanel::addEval);
  connect(controller_, &TrainingController::error, this, &MainWindow::showError);
  connect(controller_, &TrainingController::failed, this, [this](const QString& message) {
    state_->setPhase(RunPhase::Failed, message.section('\n', 0, 0));
  });
  connect(controller_, &TrainingController::runEnded, this, &MainWindow::onRunEnded);
  connect(controller_, &TrainingController::snapshotReady, this, [this](const InferenceModel& m) {
    const auto waiters = std::exchange(model_waiters_, {});
    for (const auto& use : waiters) use(m);
  });
  // The trainer is gone with the run's lock: its weights are now the checkpoint it wrote. Requests it did not
  // serve before it ended are served from there, so none waits for a trainer that will not answer.
  connect(controller_, &TrainingController::runReleased, this, [this](const QString& runDir) {
    if (runDir != opened_run_) return;
    live_model_ = false;
    opened_model_.reset();
    const auto waiters = std::exchange(model_waiters_, {});
    for (const auto& use : waiters) withModel(use, [this](const QString& why) { showError(why); });
  });
  connect(controller_, &TrainingController::evalDone, this, [this](const EvalReport& r) {
    if (!r.snapshot.empty()) routing_->addSnapshot(r.snapshot);
    routing_->setLoadHistory(training_->history().layers);  // the expert profiles' load over training
  });
}

void MainWindow::connectGeneration() {
  connect(generation_, &GenerationPanel::modelRequested, this, [this] {
    // the speed is the run's only while nothing else trains here
    const QString run = controller_->busy() || runs_->suiteRunning() || follower_->following() ? QString() : opened_run_;
    withModel([this, run](const InferenceModel& m) { generation_->generateWith(m, run); },
              [this](const QString& why) { generation_->setStatus(why); });
  });
  connect(generation_, &GenerationPanel::speedRecorded, runs_, &RunsPanel::refreshRun);
  connect(generation_, &GenerationPanel::finished, routing_, &RoutingPanel::setGeneratedText);
  connect(generation_, &GenerationPanel::textGrown, routing_, &RoutingPanel::streamGenerated);
}

void MainWindow::connectFollower() {
  connect(follower_, &RunFollower::metricsChanged, this, [this](const MetricsTable& table) {
    training_->load(TrainingHistory::fromMetrics(table, followed_config_), followed_config_);
    routing_->setLoadHistory(training_->history().layers);
    showProgress(table, followed_config_);
  });
  connect(follower_, &RunFollower::snapshotsAdded, this, [this](const QList<RoutingTrace>& snapshots) {
    for (const auto& s : snapshots) routing_->addSnapshot(s);
    opened_model_.reset();  // an evaluation wrote a newer checkpoint: generation and traces load it
  });
  connect(follower_, &RunFollower::ended, this, [this](const QString& error) {
    // a headless run that failed says why, from its train.log: in full on the error bar, briefly in the state
    if (!error.isEmpty()) {
      banner_->showError(QString("The process writing '%1' failed: %2\nResume continues the run here from its last "
                                 "checkpoint.")
                             .arg(QFileInfo(opened_run_).fileName(), error));
      state_->setPhase(RunPhase::Idle, "its writer failed — Resume continues from the last checkpoint");
    } else
      state_->setPhase(RunPhase::Idle, opened_run_finished_ ? "the run finished (its writer ended)"
                                                            : "its writer stopped — Resume continues the run here");
    updateActions();
  });
}

void MainWindow::connectRunsPanel() {
  connect(runs_, &RunsPanel::openRunRequested, this, [this](const QString& dir) { openRun(dir); });
  connect(runs_, &RunsPanel::fineTuneRequested, this,
          [this](const QString& dir) { openRun(dir, [this, dir] { controller_->resumeRun(dir); }); });
  connect(runs_, &RunsPanel::message, this, &MainWindow::showError);
  connect(runs_, &RunsPanel::suiteRunningChanged, this, [this] { updateActions(); });
  connect(runs_, &RunsPanel::suiteRequested, this, [this] {
    if (!config_valid_ || dataset_path_.isEmpty()) {
      showError("Fix the configuration (and open a dataset) before running the paper experiment: its base is the "
                "current configuration.");
      return;
    }
    runs_->startSuite(config_->config(), dataset_path_);
  });
  connect(controller_, &TrainingController::runReleased, runs_, &RunsPanel::refreshRun);  // finished or stopped now
  connect(runs_, &RunsPanel::renamed, this, [this](const QString& dir) {
    if (dir == opened_run_) showRunName(dir);  // the figures' subtitles and the title follow
  });
  connect(controller_, &TrainingController::runStarted, runs_, &RunsPanel::refresh);  // its status: training
}

void MainWindow::connectSuite() {
  SuiteWorker* suite = runs_->suiteWorker();
  connect(suite, &SuiteWorker::variantStarted, this, &MainWindow::onSuiteVariant);
  connect(suite, &SuiteWorker::stepDone, this, [this](const StepReport& r) {
    training_->addStep(r);
    onStep(r);
  });
  connect(suite, &SuiteWorker::evalDone, training_, &TrainingPanel::addEval);
  connect(suite, &SuiteWorker::evalDone, this, [this](const EvalReport& r) {
    if (!r.snapshot.empty()) routing_->addSnapshot(r.snapshot);
    routing_->setLoadHistory(training_->history().layers);
  });
  connect(suite, &SuiteWorker::finished, this, [this](bool complete) { onSuiteEnded(complete, {}); });
  connect(suite, &SuiteWorker::failed, this, [this](const QString& m) { onSuiteEnded(false, m); });
}

void MainWindow::rememberTrainingRun() {
  interrupted_run_ = QSettings().value(kTrainingRunKey).toString();
  connect(controller_, &TrainingController::runStarted, this,
          [](const QString& runDir) { QSettings().setValue(kTrainingRunKey, runDir); });
  connect(controller_, &TrainingController::runEnded, this, [this] {
    if (!closing_) QSettings().remove(kTrainingRunKey);
  });
}

void MainWindow::connectModelRequests() {
  connect(routing_->interventionPanel(), &InterventionPanel::modelRequested, this, [this] {
    InterventionPanel* panel = routing_->interventionPanel();
    withModel([panel](const InferenceModel& m) { panel->runWith(m); },
              [panel](const QString& why) { panel->setStatus(why); });
  });
  connect(routing_, &RoutingPanel::statisticsRequested, this, [this] {
    withModel([this](const InferenceModel& m) { routing_->countValidationWith(m); },
              [this](const QString& why) { routing_->traceFailed(why); });
  });
  connect(routing_, &RoutingPanel::traceRequested, this, [this](const QString& text) {
    withModel([this, text](const InferenceModel& m) { routing_->traceWith(m, text); },
              [this](const QString& why) { routing_->traceFailed(why); });
  });
}

MainWindow::~MainWindow() {
  closing_ = true;
  controller_->shutdown();
}

void MainWindow::buildActions() {
  createTrainingActions();
  connectTrainingActions();
  createExportAction();
  buildFileMenu();
  buildTrainingMenu();
  buildToolbar();
}

void MainWindow::createTrainingActions() {
  auto icon = [this](QStyle::StandardPixmap p) { return style()->standardIcon(p); };
  open_dataset_ = new QAction(icon(QStyle::SP_DialogOpenButton), "Open &dataset…", this);
  open_dataset_->setShortcut(QKeySequence::Open);
  open_dataset_->setToolTip("Open any UTF-8 text file as the training corpus (Ctrl+O)");
  open_run_ = new QAction(icon(QStyle::SP_DirOpenIcon), "Open &run…", this);
  open_run_->setShortcut(QKeySequence("Ctrl+Shift+O"));
  open_run_->setToolTip("Open a run folder: restores its config and charts; Resume continues it (Ctrl+Shift+O)");
  start_ = new QAction(icon(QStyle::SP_MediaPlay), "&Start", this);
  start_->setShortcut(QKeySequence("Ctrl+R"));
  start_->setToolTip("Start a new run with this configuration (Ctrl+R)");
  pause_ = new QAction(icon(QStyle::SP_MediaPause), "&Pause", this);
  pause_->setShortcut(QKeySequence("Ctrl+P"));
  pause_->setToolTip("Pause after the current step and write a checkpoint (Ctrl+P)");
  resume_ = new QAction(icon(QStyle::SP_MediaSeekForward), "Res&ume", this);
  resume_->setShortcut(QKeySequence("Ctrl+Shift+R"));
  resume_->setToolTip("Continue the paused or opened run (Ctrl+Shift+R)");
  stop_ = new QAction(icon(QStyle::SP_MediaStop), "S&top", this);
  stop_->setShortcut(QKeySequence("Ctrl+."));
  stop_->setToolTip("Stop after the current step; the latest checkpoint is kept (Ctrl+.)");
}

void MainWindow::connectTrainingActions() {
  connect(open_dataset_, &QAction::triggered, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, "Open dataset", QFileInfo(dataset_path_).absolutePath(),
                                                      "Text files (*.txt);;All files (*)");
    if (!path.isEmpty()) openDataset(path);
  });
  connect(open_run_, &QAction::triggered, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, "Open run folder", runsDirectory());
    if (!dir.isEmpty()) openRun(dir);
  });
  connect(start_, &QAction::triggered, this, &MainWindow::startTraining);
  connect(pause_, &QAction::triggered, controller_, &TrainingController::pause);
  connect(resume_, &QAction::triggered, this, [this] {
    if (controller_->state() == TrainingController::State::Paused) controller_->resume();
    else if (!opened_run_.isEmpty()) {
      state_->setPhase(RunPhase::Starting, "reading the checkpoint…");
      controller_->resumeRun(opened_run_);
    }
  });
  connect(stop_, &QAction::triggered, controller_, &TrainingController::stop);
}

void MainWindow::createExportAction() {
  export_all_ = new QAction(style()->standardIcon(QStyle::SP_DialogSaveButton), "&Export all figures", this);
  export_all_->setShortcut(QKeySequence("Ctrl+E"));
  export_all_->setToolTip("Write every figure of this run into its figures/ folder as PNG, SVG and PDF, with the "
                          "data as CSV and JSON, in the paper style at 200 DPI (Ctrl+E). Right-click any figure (or press the "
                          "Menu key over it) to export just that one with your own size, DPI and style.");
  connect(export_all_, &QAction::triggered, this, &MainWindow::exportAllFigures);
}

void MainWindow::buildFileMenu() {
  auto* choose_runs = new QAction("Runs &directory…", this);
  connect(choose_runs, &QAction::triggered, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, "Runs directory", runsDirectory());
    if (!dir.isEmpty()) setRunsDirectory(dir);
  });
  auto* file = menuBar()->addMenu("&File");
  file->addAction(open_dataset_);
  file->addAction(open_run_);
  file->addAction(export_all_);
  file->addAction(choose_runs);
  file->addSeparator();
  file->addAction("&Quit", QKeySequence::Quit, this, &QWidget::close);
}

void MainWindow::buildTrainingMenu() {
  auto* train = menuBar()->addMenu("&Training");
  for (auto* a : {start_, pause_, resume_, stop_}) train->addAction(a);
  train->addSeparator();
  auto* threads = train->addAction("CPU &threads…");
  threads->setToolTip("How many CPU threads training uses; by default all but one, which stays with the window.");
  connect(threads, &QAction::triggered, this, [this] {
    const int cores = QThread::idealThreadCount();
    bool ok = false;
    const int n = QInputDialog::getInt(this, "CPU threads for training",
                                       QString("Threads for training and evaluation (this machine has %1; 0 = all but "
                                               "one, so the window stays responsive). Takes effect at the next start "
                                               "or resume.").arg(cores),
                                       QSettings().value(kThreadsKey, 0).toInt(), 0, cores, 1, &ok);
    if (!ok) return;
    QSettings().setValue(kThreadsKey, n);
    applyTrainingThreads();
  });
}

void MainWindow::buildToolbar() {
  auto* bar = addToolBar("Training");
  bar->setObjectName("training_toolbar");
  bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  bar->addAction(open_dataset_);
  bar->addAction(open_run_);
  bar->addSeparator();
  for (auto* a : {start_, pause_, resume_, stop_}) bar->addAction(a);
  bar->addSeparator();
  bar->addAction(export_all_);
}

void MainWindow::buildDocks() {
  config_dock_ = dock("Configuration", "configuration_dock", config_, /*scrollsItself=*/true);
  auto* config_dock = config_dock_;
  config_dock->setMinimumWidth(260);
  addDockWidget(Qt::LeftDockWidgetArea, config_dock);
  generation_dock_ = dock("Generation", "generation_dock", generation_, /*scrollsItself=*/true);  // its text scrolls
  auto* generation_dock = generation_dock_;
  addDockWidget(Qt::BottomDockWidgetArea, generation_dock);
  auto* view = menuBar()->addMenu("&View");
  for (auto* d : {config_dock, generation_dock}) view->addAction(d->toggleViewAction());
  generation_beside_ = view->addAction("Generation &beside the configuration", this, &MainWindow::placeGeneration);
  generation_beside_->setCheckable(true);
  generation_beside_->setObjectName("generation_beside");
  generation_beside_->setToolTip("Generation as a tab of the left dock, so the charts and heatmaps keep the window's "
                                 "height; unchecked, it sits under them (remembered)");
  connect(generation_dock, &QDockWidget::dockLocationChanged, this, [this](Qt::DockWidgetArea area) {
    generation_beside_->setChecked(area == Qt::LeftDockWidgetArea);
    generation_->setCompact(area == Qt::LeftDockWidgetArea || area == Qt::RightDockWidgetArea);
  });
  view->addSeparator();
  auto* show_training = view->addAction("&Training charts", QKeySequence("Ctrl+1"), [this] { views_->setCurrentIndex(0); });
  auto* show_routing = view->addAction("&Routing heatmaps", QKeySequence("Ctrl+2"), [this] { views_->setCurrentIndex(1); });
  auto* show_runs = view->addAction("R&uns and comparison", QKeySequence("Ctrl+3"), [this] { views_->setCurrentIndex(2); });
  show_runs->setToolTip("Show the runs table and the paper comparison (Ctrl+3)");
  show_training->setToolTip("Show the training charts (Ctrl+1)");
  show_routing->setToolTip("Show the routing heatmaps (Ctrl+2)");
}

void MainWindow::placeGeneration(bool besideConfiguration) {
  if (besideConfiguration) {
    tabifyDockWidget(config_dock_, generation_dock_);
    config_dock_->raise();  // the form first: Generation is one click away, on the tab under it
  } else {
    addDockWidget(Qt::BottomDockWidgetArea, generation_dock_);
  }
  generation_dock_->show();
  generation_->setCompact(besideConfiguration);
  generation_beside_->setChecked(besideConfiguration);
}

bool MainWindow::openDataset(const QString& path) {
  if (controller_->busy()) {
    showError("Stop training before changing the dataset.");
    return false;
  }
  try {
    const TextDataset data = TextDataset::from_file(path.toStdString());
    dataset_path_ = QFileInfo(path).absoluteFilePath();
    routing_->setDatasetPath(dataset_path_);
    config_->setDatasetSize(data.train_size(), data.val_size(), data.vocab.size());
    routing_->setValidationText(QString::fromStdString(data.probe_text(kValidationSliceChars)));
    // short in the status bar, the exact counts and the path in the tooltip
    const QString size = data.tokens.size() >= 1000000 ? QString("%1 M").arg(data.tokens.size() / 1e6, 0, 'f', 1)
                                                        : QLocale().toString(static_cast<qlonglong>(data.tokens.size()));
    dataset_label_->setText(QString("Dataset: %1 · %2 characters · vocabulary %3")
                                .arg(QString::fromStdString(data.name), size)
                                .arg(data.vocab.size()));
    dataset_label_->setToolTip(QString("%1\n%2 characters: train %3, validation %4")
                                   .arg(dataset_path_)
                                   .arg(data.tokens.size())
                                   .arg(data.train_size())
                                   .arg(data.val_size()));
    banner_->hide();
    return true;
  } catch (const std::exception& e) {
    const QString message = QString("Cannot use %1 as a dataset: %2").arg(QFileInfo(path).fileName(), e.what());
    if (dataset_path_.isEmpty()) config_->setDatasetError(message);
    showError(message);
    return false;
  }
}

namespace {

// A run folder as read from disk, off the GUI thread.
struct RunContents {
  RunFolder::Contents run;
  QString error;  // the run itself could not be read
};

RunContents read_run(const QString& runDir) {
  try {
    return {RunFolder(runDir.toStdString()).read(), {}};
  } catch (const std::exception& e) {
    return {{}, QString::fromUtf8(e.what())};
  }
}

struct LoadedModel {
  std::optional<InferenceModel> model;
  QString error;
};

}  // namespace

bool MainWindow::openRun(const QString& runDir, std::function<void()> then) {
  if (controller_->busy()) {
    showError("Stop training before opening another run.");
    return false;
  }
  follower_->stop();
  state_->setPhase(RunPhase::Idle, QString("opening %1…").arg(QFileInfo(runDir).fileName()));
  auto* watcher = new QFutureWatcher<RunContents>(this);
  connect(watcher, &QFutureWatcher<RunContents>::finished, this, [this, watcher, runDir, then] {
    const RunContents r = watcher->result();
    watcher->deleteLater();
    if (!r.error.isEmpty() || controller_->busy()) {
      showError(QString("Cannot open the run %1: %2")
                    .arg(runDir, r.error.isEmpty() ? "training started meanwhile" : r.error));
      state_->setPhase(RunPhase::Idle);
      Q_EMIT runOpened(runDir, false);
      return;
    }
    const QList<RoutingTrace> snapshots(r.run.snapshots.traces.begin(), r.run.snapshots.traces.end());
    showRun(runDir, r.run.config, r.run.metrics, snapshots);
    if (!r.run.writer.empty()) follow(runDir, r.run.config, snapshots);
    QStringList skipped;
    for (const std::string& file : r.run.snapshots.skipped) skipped << QString::fromStdString(file);
    if (!skipped.isEmpty()) showError("Skipped routing snapshots: " + skipped.join("; "));
    Q_EMIT runOpened(runDir, true);
    if (then) then();
  });
  watcher->setFuture(QtConcurrent::run([runDir] { return read_run(runDir); }));
  return true;
}

void MainWindow::showRun(const QString& runDir, const Config& c, const MetricsTable& table,
                         const QList<RoutingTrace>& snapshots) {
  forgetNoModelMessages();
  config_->setConfig(c);
  training_->load(TrainingHistory::fromMetrics(table, c), c);
  routing_->reset(c);
  routing_->setSnapshots(snapshots);
  routing_->setLoadHistory(training_->history().layers);
  opened_run_ = runDir;
  opened_model_.reset();
  showRunName(runDir);
  live_model_ = false;  // generation and traces now use this run's checkpoint
  showProgress(table, c);
  clearRate();
  banner_->hide();
  updateActions();
}

void MainWindow::showProgress(const MetricsTable& table, const Config& c) {
  const auto step = table.values.find("step");
  const int last = step != table.values.end() && !step->second.empty() ? static_cast<int>(step->second.back()) : 0;
  opened_run_finished_ = last >= c.max_iters;
  progress_->setRange(0, c.max_iters);
  progress_->setValue(last);
  step_label_->setText(QString("Step %1 / %2").arg(last).arg(c.max_iters));
  if (follower_->following())  // the step is in the step label beside it
    state_->setPhase(RunPhase::Idle, QString("following — written by %1 (read-only)").arg(follower_->writer()));
  else
    state_->setPhase(RunPhase::Idle, opened_run_finished_
                                         ? "opened a finished run"
                                         : QString("opened a run stopped at step %1 — Resume continues it").arg(last));
}

void MainWindow::follow(const QString& runDir, const Config& config, const QList<RoutingTrace>& snapshots) {
  QList<int> steps;
  for (const auto& s : snapshots) steps << s.step;
  followed_config_ = config;
  follower_->follow(runDir, steps);
  state_->setPhase(RunPhase::Idle, QString("following — written by %1 (read-only)").arg(follower_->writer()));
  updateActions();
}

void MainWindow::startTraining() {
  if (!config_valid_ || controller_->busy() || dataset_path_.isEmpty()) return;
  const Config c = config_->config();
  const QString kind = c.is_moe() ? QString::fromStdString(name_of(c.routing)) : "dense";
  const QString run = QDir(runsDirectory())
                          .filePath(QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss-zzz") + "-" + kind);
  follower_->stop();
  opened_run_.clear();
  training_->reset(c);
  routing_->reset(c);
  banner_->hide();
  progress_->setRange(0, c.max_iters);
  progress_->setValue(0);
  clearRate();
  state_->setPhase(RunPhase::Starting, "reading the data and building the model…");
  controller_->start(c, dataset_path_, run);
}

void MainWindow::forgetNoModelMessages() {
  if (generation_->status() == kNoModel) generation_->setStatus({});
  if (routing_->status() == kNoModel) routing_->traceFailed({});
  if (routing_->interventionPanel()->status() == kNoModel) routing_->interventionPanel()->setStatus({});
}

void MainWindow::onRunStarted(const QString& runDir, const QString& device, int step, int maxIters) {
  forgetNoModelMessages();
  opened_run_ = runDir;
  opened_model_.reset();  // training changes the weights: the next trace asks the trainer
  showRunName(runDir);
  live_model_ = true;
  opened_run_finished_ = false;
  session_clock_.start();
  session_first_step_ = step;
  progress_->setRange(0, maxIters);
  progress_->setValue(step);
  device_label_->setText(device == "cpu" ? cpuLabel() : "Device: " + device.toUpper());
  if (controller_->state() == TrainingController::State::Running)
    state_->setPhase(RunPhase::Training, QString("step %1 / %2").arg(step).arg(maxIters));
}

void MainWindow::onStep(const StepReport& r) {
  const int max_iters = suite_variant_.isEmpty() ? controller_->maxIters() : suite_max_iters_;
  progress_->setValue(r.step);
  step_label_->setText(QString("Step %1 / %2").arg(r.step).arg(max_iters));
  if (state_->phase() == RunPhase::Training && suite_variant_.isEmpty())
    state_->setPhase(RunPhase::Training, QString("step %1 / %2").arg(r.step).arg(max_iters));
  if (r.logged) rate_label_->setText(QString("%1 tokens/s").arg(r.tokens_per_sec, 0, 'f', 0));
  const int done = r.step - session_first_step_;
  if (done > 0)
    eta_label_->setText("ETA " + format_eta((max_iters - r.step) * (session_clock_.elapsed() / 1000.0) / done));
}

void MainWindow::withModel(const std::function<void(const InferenceModel&)>& use,
                           const std::function<void(const QString&)>& fail) {
  if (live_model_) {
    model_waiters_ << use;
    controller_->requestSnapshot();
    return;
  }
  if (opened_run_.isEmpty()) {
    fail(kNoModel);
    return;
  }
  if (opened_model_) {
    use(*opened_model_);
    return;
  }
  // the checkpoint is read off the GUI thread, once per opened run
  auto* watcher = new QFutureWatcher<LoadedModel>(this);
  connect(watcher, &QFutureWatcher<LoadedModel>::finished, this, [this, watcher, use, fail, run = opened_run_] {
    const LoadedModel r = watcher->result();
    watcher->deleteLater();
    if (run != opened_run_ || live_model_) {
      fail("Another run was opened meanwhile: try again.");
    } else if (r.model) {
      opened_model_ = r.model;
      // a checkpoint saved before checkpoints carried a checksum loads unverified: the user is told once
      if (!r.model->notice().empty()) banner_->showNotice(QString::fromStdString(r.model->notice()));
      use(*r.model);
    } else {
      fail(QString("Cannot load the run's checkpoint: %1").arg(r.error));
    }
  });
  watcher->setFuture(QtConcurrent::run([path = RunFolder(opened_run_.toStdString()).latest_checkpoint()] {
    try {
      return LoadedModel{InferenceModel::load(path), {}};
    } catch (const std::exception& e) {
      return LoadedModel{std::nullopt, QString::fromUtf8(e.what())};
    }
  }));
}

void MainWindow::updateActions() {
  using S = TrainingController::State;
  const S s = controller_->state();
  const bool idle = s == S::Idle && !runs_->suiteRunning();
  start_->setEnabled(idle && config_valid_ && !dataset_path_.isEmpty());
  export_all_->setEnabled(!opened_run_.isEmpty() && !exporting_);
  runs_->setSuiteAllowed(s == S::Idle);
  start_->setToolTip(config_valid_ ? "Start a new run with this configuration (Ctrl+R)"
                                   : "Fix the configuration errors shown in the Configuration panel first");
  pause_->setEnabled(s == S::Running);
  resume_->setEnabled((s == S::Paused && !runs_->suiteRunning()) ||
                      (idle && !opened_run_.isEmpty() && !opened_run_finished_ && !follower_->following()));
  stop_->setEnabled(s == S::Running || s == S::Paused || s == S::Pausing);
  open_dataset_->setEnabled(idle);
  open_run_->setEnabled(idle);
  config_->setEnabled(idle);
}

void MainWindow::onStateChanged() {
  using S = TrainingController::State;
  const int step = controller_->step();
  switch (controller_->state()) {
    case S::Running:
      // Start and Resume show "Starting" until the worker reports the run (onRunStarted); a paused trainer
      // continues at once
      if (state_->phase() != RunPhase::Starting)
        state_->setPhase(RunPhase::Training, QString("step %1 / %2").arg(step).arg(controller_->maxIters()));
      break;
    case S::Pausing:
      state_->setPhase(RunPhase::Pausing, QString("step %1 finishes, then a checkpoint is written…").arg(step + 1));
      clearRate();
      break;
    case S::Paused:
      state_->setPhase(RunPhase::Paused, QString("at step %1 — Resume continues").arg(step));
      clearRate();
      break;
    case S::Stopping:
      state_->setPhase(RunPhase::Stopping, "the current step finishes, then a checkpoint is written…");
      clearRate();
      break;
    case S::Idle:
      // a run that ended says how (onRunEnded, or a failure); otherwise the trainer is simply idle
      if (state_->phase() != RunPhase::Finished && state_->phase() != RunPhase::Stopped &&
          state_->phase() != RunPhase::Failed)
        state_->setPhase(RunPhase::Idle);
      clearRate();
      break;
  }
  updateActions();
}

void MainWindow::onRunEnded(bool finished) {
  opened_run_finished_ = finished;
  const QString name = QFileInfo(controller_->runDir()).fileName();
  if (finished) {
    state_->setPhase(RunPhase::Finished, QString("%1, %2 steps").arg(name).arg(controller_->step()));
    const auto& val = training_->history().val_loss;  // (step, loss) of each evaluation
    QString best;
    if (!val.isEmpty()) {
      const auto it = std::min_element(val.begin(), val.end(), [](QPointF a, QPointF b) { return a.y() < b.y(); });
      best = QString(": best validation loss %1 at step %2").arg(it->y(), 0, 'f', 4).arg(it->x());
    }
    banner_->showNotice(QString("Training finished — %1 ran all %2 steps%3.").arg(name).arg(controller_->step()).arg(best));
    QApplication::alert(this);  // the taskbar entry flashes when the window is in the background
  } else {
    state_->setPhase(RunPhase::Stopped, QString("%1 at step %2 — Resume continues").arg(name).arg(controller_->step()));
  }
}

void MainWindow::onSuiteVariant(const QString& runDir, const Config& config, int index, int count, int step) {
  suite_variant_ = QString("paper experiment, run %1 of %2").arg(index + 1).arg(count);
  suite_max_iters_ = config.max_iters;
  opened_run_ = runDir;
  opened_model_.reset();
  live_model_ = false;
  config_->setConfig(config);
  routing_->reset(config);
  if (step > 0) {
    try {
      training_->load(TrainingHistory::fromMetrics(RunFolder(runDir.toStdString()).read_metrics(), config), config);
    } catch (const std::exception&) {
      training_->reset(config);  // the charts start empty; the run itself is unaffected
    }
  } else {
    training_->reset(config);
  }
  routing_->setLoadHistory(training_->history().layers);
  showRunName(runDir);
  session_clock_.start();
  session_first_step_ = step;
  progress_->setRange(0, config.max_iters);
  progress_->setValue(step);
  state_->setPhase(RunPhase::Training, suite_variant_);
  updateActions();
}

void MainWindow::onSuiteEnded(bool complete, const QString& error) {
  suite_variant_.clear();
  clearRate();
  if (!error.isEmpty()) state_->setPhase(RunPhase::Failed, "the paper experiment: " + error);
  else if (complete) {
    state_->setPhase(RunPhase::Finished, "the paper experiment");
    banner_->showNotice("The paper experiment finished: its five runs are compared in the Runs tab.");
    QApplication::alert(this);
  } else {
    state_->setPhase(RunPhase::Stopped, "the paper experiment — Continue suite picks it up");
  }
  opened_run_finished_ = true;  // a suite member continues with its suite, not with Resume
  updateActions();
}

void MainWindow::applyTrainingThreads() {
  const int chosen = QSettings().value(kThreadsKey, 0).toInt();
  set_training_threads(chosen > 0 ? chosen : std::max(1, QThread::idealThreadCount() - 1));
  device_label_->setText(cuda_available() ? "Device: CUDA" : cpuLabel());
}

QString MainWindow::cpuLabel() const {
  return QString("Device: CPU (%1 of %2 threads for training)").arg(training_threads()).arg(QThread::idealThreadCount());
}

void MainWindow::clearRate() {
  rate_label_->clear();
  eta_label_->clear();
}

void MainWindow::showRunName(const QString& runDir) {
  QString name = QFileInfo(runDir).fileName();  // where its config.json or meta.json cannot be read
  try {
    name = QString::fromStdString(read_display_name(runDir.toStdString()));
  } catch (const std::exception&) {
  }
  training_->setRunName(name);
  routing_->setRunName(name);
  setWindowTitle(QString("MoE Routing Workbench — %1").arg(name));
}

void MainWindow::showError(const QString& message) {
  const bool paused = controller_->state() == TrainingController::State::Paused;
  banner_->showError(paused ? message + "\nTraining is paused." : message);
}

QString MainWindow::errorMessage() const {
  return banner_->isVisible() && banner_->isError() ? banner_->message() : QString();
}

QString MainWindow::noticeMessage() const {
  return banner_->isVisible() && !banner_->isError() ? banner_->message() : QString();
}

QString MainWindow::runsDirectory() const {
  // the CLI's default too, so `moewb-cli train` runs show up in the Runs tab
  return QSettings().value("runsDirectory", QString::fromStdString(default_runs_directory())).toString();
}

void MainWindow::setRunsDirectory(const QString& dir) {
  QSettings().setValue("runsDirectory", dir);
  runs_->setRunsDirectory(dir);
}

bool MainWindow::exportAllFigures() {
  if (opened_run_.isEmpty()) {
    showError("Open or train a run first: figures are exported from a run folder.");
    return false;
  }
  if (exporting_) return false;
  exporting_ = true;
  updateActions();
  statusBar()->showMessage(QString("Exporting the figures of %1…").arg(QFileInfo(opened_run_).fileName()));
  struct Result {
    QStringList files;
    QString error;
  };
  // the renderers need no widget: painting into images and files runs off the GUI thread
  auto* watcher = new QFutureWatcher<Result>(this);
  connect(watcher, &QFutureWatcher<Result>::finished, this, [this, watcher] {
    const Result r = watcher->result();
    watcher->deleteLater();
    exporting_ = false;
    statusBar()->clearMessage();  // "Exporting…" ends with the export; the banner says how it went
    updateActions();
    if (r.error.isEmpty())
      banner_->showNotice(QString("Wrote %1 files into %2/figures").arg(r.files.size()).arg(opened_run_));
    else
      showError(QString("Cannot export the figures: %1").arg(r.error));
    Q_EMIT figuresExported(r.files, r.error);
  });
  watcher->setFuture(QtConcurrent::run([run = opened_run_] {
    try {
      return Result{export_run_figures(run, {FigureFormat::Png, FigureFormat::Svg, FigureFormat::Pdf}), {}};
    } catch (const std::exception& e) {
      return Result{{}, QString::fromUtf8(e.what())};
    }
  }));
  return true;
}

void MainWindow::restoreSettings() {
  QSettings settings;
  if (!restoreGeometry(settings.value("window/geometry").toByteArray())) {
    // first start: 90 % of a large screen; a small one (1280 x 800, or 200 % scale) is used whole, maximised,
    // so the title bar and the status bar both stay on screen whatever the window decorations take
    const QSize available = screen() ? screen()->availableSize() : QSize(1280, 800);
    const bool small = available.width() < 1600 || available.height() < 1000;
    resize(small ? available : available * 0.9);
    if (small) setWindowState(windowState() | Qt::WindowMaximized);
  }
  fitToScreen();
  if (!restoreState(settings.value("window/state").toByteArray())) {
    // first start. A small window (1280 x 800, or 200 % scale) gives the centre views the whole height:
    // Generation becomes a tab beside the configuration, where the heatmap does not pay for it
    const bool small = height() < 900;
    placeGeneration(small);
    // the docks get their share once the window has its size
    QTimer::singleShot(0, this, [this, small] {
      resizeDocks({config_dock_}, {small ? 300 : 360}, Qt::Horizontal);
      if (!small) resizeDocks({generation_dock_}, {height() / 4}, Qt::Vertical);
    });
  } else {
    const Qt::DockWidgetArea area = dockWidgetArea(generation_dock_);  // where the user left it
    generation_beside_->setChecked(area == Qt::LeftDockWidgetArea);
    generation_->setCompact(area == Qt::LeftDockWidgetArea || area == Qt::RightDockWidgetArea);
  }
  const QString last_config = settings.value("lastConfig").toString();
  if (!last_config.isEmpty()) {
    std::vector<FieldError> errors;
    const Config c = config_from_json(last_config.toStdString(), config_->config(), errors);
    if (errors.empty()) config_->restore(c, settings.value("lastPreset").toString());
  }
  const QString last_dataset = settings.value("lastDataset").toString();
  if (!last_dataset.isEmpty() && QFileInfo::exists(last_dataset)) openDataset(last_dataset);
}

void MainWindow::fitToScreen() {
  // a geometry saved on a larger screen (or at a smaller scale) must not put the status bar off this one
  if (!screen() || isMaximized()) return;
  const QRect available = screen()->availableGeometry();
  if (available.contains(frameGeometry())) return;
  resize(size().boundedTo(available.size() * 0.9));
  move(available.topLeft() + QPoint(available.width() - width(), available.height() - height()) / 2);
}

void MainWindow::saveSettings() const {
  QSettings settings;
  settings.setValue("window/geometry", saveGeometry());
  settings.setValue("window/state", saveState());
  settings.setValue("lastConfig", QString::fromStdString(to_json(config_->config())));
  settings.setValue("lastPreset", config_->basePreset());
  settings.setValue("lastDataset", dataset_path_);
  settings.setValue(kLastRunKey, opened_run_);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (controller_->busy() || runs_->suiteRunning()) {
    const auto answer = QMessageBox::question(
        this, "Training is running",
        "Stop training and quit? The latest checkpoint is saved so the run (or the paper experiment) can be "
        "resumed later.",
        QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Yes);
    if (answer != QMessageBox::Yes) {
      event->ignore();
      return;
    }
  }
  closing_ = true;
  controller_->shutdown();
  saveSettings();
  event->accept();
}

QString MainWindow::interruptedRun() const {
  if (interrupted_run_.isEmpty()) return {};
  try {
    if (summarize_run(interrupted_run_.toStdString()).status == RunStatus::stopped) return interrupted_run_;
  } catch (const std::exception&) {  // gone or unreadable: nothing to resume
  }
  return {};
}

bool MainWindow::offerResume(const std::function<ResumeChoice(const QString&)>& ask) {
  const QString run = interruptedRun();
  if (QSettings().value(kTrainingRunKey).toString() == interrupted_run_) QSettings().remove(kTrainingRunKey);
  interrupted_run_.clear();  // offered once, whatever the answer
  if (run.isEmpty()) return false;
  const ResumeChoice choice = ask ? ask(run) : ask_resume(this, run);
  if (choice == ResumeChoice::Ignore) return true;
  openRun(run, [this, run, choice] {
    if (choice == ResumeChoice::Resume) controller_->resumeRun(run);
  });
  return true;
}

bool MainWindow::reopenLastRun() {
  const QString run = QSettings().value(kLastRunKey).toString();
  if (run.isEmpty() || !RunFolder(run.toStdString()).holds_run()) return false;  // moved or deleted since
  return openRun(run);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls() && event->mimeData()->urls().first().isLocalFile()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QString path = event->mimeData()->urls().first().toLocalFile();
  if (QFileInfo(path).isDir() && RunFolder(path.toStdString()).holds_run()) openRun(path);
  else openDataset(path);
}

}  // namespace moewb
