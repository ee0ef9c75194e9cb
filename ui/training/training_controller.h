// The GUI-thread face of training: owns the worker thread, tracks the run state and turns the worker's
// signals into state changes. Widgets talk to this, never to the worker.
#pragma once

#include <QObject>
#include <QThread>

#include "ui/training/training_worker.h"

namespace moewb {

class TrainingController : public QObject {
  Q_OBJECT

 public:
  enum class State { Idle, Running, Pausing, Paused, Stopping };
  Q_ENUM(State)

  explicit TrainingController(QObject* parent = nullptr);
  ~TrainingController() override;

  State state() const { return state_; }
  bool busy() const { return state_ == State::Running || state_ == State::Pausing || state_ == State::Stopping; }
  int step() const { return step_; }
  int maxIters() const { return max_iters_; }
  QString runDir() const { return run_dir_; }
  QString device() const { return device_; }

  void start(const Config& config, const QString& datasetPath, const QString& runDir);
  void resumeRun(const QString& runDir);
  void pause();
  void resume();
  void stop();
  void requestSnapshot();
  // Stops training, waits for the checkpoint and ends the thread (for quitting).
  void shutdown();

 Q_SIGNALS:
  void stateChanged(moewb::TrainingController::State state);
  void runStarted(const QString& runDir, const QString& device, int step, int maxIters);
  void stepDone(const moewb::StepReport& report);
  void evalDone(const moewb::EvalReport& report);
  void error(const QString& message);
  // The run could not start or broke off (also reported through error()); the controller is idle again.
  void failed(const QString& message);
  // Training left the loop for good: finished all iterations, or stopped early (resumable).
  void runEnded(bool finished);
  // After runEnded() or a failure of a run that had started: the trainer let go of the run folder, whose files
  // now say what became of it (the Runs tab's status). A paused run keeps it.
  void runReleased(const QString& runDir);
  void snapshotReady(const moewb::InferenceModel& model);

 private:
  void setState(State s);

  QThread thread_;
  TrainingWorker* worker_;
  State state_ = State::Idle;
  int step_ = 0, max_iters_ = 0;
  QString run_dir_, device_;
  bool holding_ = false;  // the worker's trainer holds run_dir_ (from started to stopped or failed)
};

}  // namespace moewb
