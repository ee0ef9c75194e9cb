// The main window wires the docks together: Configuration, Training, Generation, Routing and Runs. It owns the
// dataset choice, the run folder and the toolbar; each dock owns its widgets.
#pragma once

#include <QElapsedTimer>
#include <QMainWindow>

#include <functional>
#include <optional>

#include "core/runs/metrics_csv.h"
#include "ui/generation/generation_panel.h"
#include "ui/routing/routing_panel.h"
#include "ui/runs/run_follower.h"
#include "ui/runs/runs_panel.h"
#include "ui/shell/notice_bar.h"
#include "ui/shell/run_state_indicator.h"
#include "ui/training/config_panel.h"
#include "ui/training/training_controller.h"
#include "ui/training/training_panel.h"

class QAction;
class QLabel;
class QProgressBar;
class QTabWidget;
class QDockWidget;

namespace moewb {

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(const QString& defaultDataset, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Returns false (and shows why) when the file is not a usable dataset.
  bool openDataset(const QString& path);
  // Reads the run folder off the GUI thread, then shows its config, charts and snapshots; runOpened() says how
  // it went and `then` runs after a successful opening. False (nothing happens) while training runs.
  bool openRun(const QString& runDir, std::function<void()> then = {});
  void startTraining();
  QString datasetPath() const { return dataset_path_; }
  QString runsDirectory() const;
  void setRunsDirectory(const QString& dir);
  // The message currently shown in the error banner (empty when hidden or when it is a notice).
  QString errorMessage() const;
  // The notice (blue banner) currently shown, e.g. "finished"; empty when none.
  QString noticeMessage() const;
  RunStateIndicator* stateIndicator() const { return state_; }

  ConfigPanel* configPanel() const { return config_; }
  TrainingPanel* trainingPanel() const { return training_; }
  GenerationPanel* generationPanel() const { return generation_; }
  RoutingPanel* routingPanel() const { return routing_; }
  RunsPanel* runsPanel() const { return runs_; }
  // Follows the opened run while another process writes it (read-only); idle otherwise.
  RunFollower* follower() const { return follower_; }
  // Writes every figure of the opened run into its figures/ folder (PNG at 200 DPI, SVG, PDF in the paper style,
  // and the data) on a worker thread; figuresExported() reports the files or the error. False when no run is open
  // or an export is already under way.
  bool exportAllFigures();
  TrainingController* controller() const { return controller_; }
  QAction* startAction() const { return start_; }
  QAction* pauseAction() const { return pause_; }
  QAction* resumeAction() const { return resume_; }
  QAction* stopAction() const { return stop_; }
  QProgressBar* progressBar() const { return progress_; }
  // The run the last session ended (quit or crashed) while it trained, when it is resumable now (not finished,
  // not trained by another process); else empty.
  QString interruptedRun() const;
  enum class ResumeChoice { Resume, Open, Ignore };
  // Offers the interrupted run once: `ask` answers (by default a message box), then the run is resumed or opened.
  // True when there was a run to offer, whatever the answer (Ignore included: it is not reopened either).
  bool offerResume(const std::function<ResumeChoice(const QString& runDir)>& ask = {});
  // Opens the run the last session had open, where it still is; false when there is none.
  bool reopenLastRun();

 Q_SIGNALS:
  void figuresExported(const QStringList& files, const QString& error);
  void runOpened(const QString& runDir, bool ok);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  // The constructor's steps, in order. Connections to one signal run in the order they are made: the steps keep
  // that order (e.g. runStarted reaches onRunStarted, then the Runs table, then the settings).
  void buildCentralWidget();
  void buildActions();
  void createTrainingActions();
  void connectTrainingActions();
  void createExportAction();
  void buildFileMenu();
  void buildTrainingMenu();
  void buildToolbar();
  void buildDocks();
  void buildStatusBar();
  void connectController();
  void connectGeneration();
  void connectFollower();
  void connectRunsPanel();
  void connectSuite();
  // Reads the run the last session left training, and keeps the setting while a run trains.
  void rememberTrainingRun();
  // The Routing tab's requests for a model (intervention, statistics, traces).
  void connectModelRequests();
  // Generation as a tab beside the configuration (the views keep the window's height: the first start on a
  // small screen), or under the views.
  void placeGeneration(bool besideConfiguration);
  // Clears "there is no model yet" wherever it was said, once a run is training or opened.
  void forgetNoModelMessages();
  void updateActions();
  void showError(const QString& message);
  void onStep(const StepReport& r);
  void onRunStarted(const QString& runDir, const QString& device, int step, int maxIters);
  void onStateChanged();
  void onRunEnded(bool finished);
  // The paper suite's current variant becomes the live run of the Training and Routing tabs.
  void onSuiteVariant(const QString& runDir, const Config& config, int index, int count, int step);
  void onSuiteEnded(bool complete, const QString& error);
  void clearRate();
  // Training threads from the settings (default: every core but one, which the GUI keeps).
  void applyTrainingThreads();
  QString cpuLabel() const;
  // Shows the run's name in the title and the panels' subtitles.
  void showRunName(const QString& runDir);
  // Keeps a restored window inside the screen it opens on.
  void fitToScreen();
  // Hands the current model to `use`: a snapshot of the training weights, else the opened run's checkpoint;
  // `fail` gets the reason when there is none.
  void withModel(const std::function<void(const InferenceModel&)>& use, const std::function<void(const QString&)>& fail);
  void showRun(const QString& runDir, const Config& config, const MetricsTable& table,
               const QList<RoutingTrace>& snapshots);
  // The opened run is written by another process: its charts, load curves and snapshots grow as it writes.
  void follow(const QString& runDir, const Config& config, const QList<RoutingTrace>& snapshots);
  void showProgress(const MetricsTable& table, const Config& config);
  void restoreSettings();
  void saveSettings() const;

  ConfigPanel* config_;
  TrainingPanel* training_;
  GenerationPanel* generation_;
  RoutingPanel* routing_;
  RunsPanel* runs_;
  RunFollower* follower_;
  Config followed_config_;
  QTabWidget* views_;
  QDockWidget *config_dock_ = nullptr, *generation_dock_ = nullptr;
  QAction* generation_beside_ = nullptr;
  TrainingController* controller_;
  QAction *open_dataset_, *open_run_, *start_, *pause_, *resume_, *stop_, *export_all_;
  NoticeBar* banner_;
  RunStateIndicator* state_;
  QString suite_variant_;  // "run 2 of 5" while the paper suite trains
  int suite_max_iters_ = 0;
  QLabel *dataset_label_, *device_label_, *step_label_, *rate_label_, *eta_label_;
  QProgressBar* progress_;
  QString dataset_path_, opened_run_;
  bool config_valid_ = false;
  bool opened_run_finished_ = false;
  bool live_model_ = false;  // the training worker holds the current model (else: the opened run's checkpoint)
  QList<std::function<void(const InferenceModel&)>> model_waiters_;
  std::optional<InferenceModel> opened_model_;  // the opened run's checkpoint, once loaded
  QElapsedTimer session_clock_;
  bool exporting_ = false;
  int session_first_step_ = 0;
  QString interrupted_run_;  // as the last session left it in the settings
  bool closing_ = false;     // runs stopped from now on are interrupted, not ended by the user
};

}  // namespace moewb
