#include "ui/training/training_controller.h"

#include <QMetaObject>

#include <utility>

namespace moewb {

TrainingController::TrainingController(QObject* parent) : QObject(parent), worker_(new TrainingWorker) {
  register_meta_types();
  thread_.setObjectName("training");
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(worker_, &TrainingWorker::started, this, [this](const QString& dir, const QString& device, int step, int max) {
    run_dir_ = dir, device_ = device, step_ = step, max_iters_ = max;
    holding_ = true;
    Q_EMIT runStarted(dir, device, step, max);
    if (state_ != State::Pausing && state_ != State::Stopping) setState(State::Running);
  });
  connect(worker_, &TrainingWorker::stepDone, this, [this](const StepReport& r) {
    step_ = r.step;
    Q_EMIT stepDone(r);
  });
  connect(worker_, &TrainingWorker::evalDone, this, &TrainingController::evalDone);
  connect(worker_, &TrainingWorker::paused, this, [this](int step) {
    step_ = step;
    if (state_ == State::Stopping) {  // Stop came while the pause was on its way: go on, to stop and release
      QMetaObject::invokeMethod(worker_, &TrainingWorker::continueRun, Qt::QueuedConnection);
      return;
    }
    setState(State::Paused);
  });
  connect(worker_, &TrainingWorker::stopped, this, [this](int step, bool finished) {
    step_ = step;
    Q_EMIT runEnded(finished);
    setState(State::Idle);
    if (std::exchange(holding_, false)) Q_EMIT runReleased(run_dir_);
  });
  connect(worker_, &TrainingWorker::failed, this, [this](const QString& message) {
    Q_EMIT failed(message);
    setState(State::Idle);
    Q_EMIT error(message);
    if (std::exchange(holding_, false)) Q_EMIT runReleased(run_dir_);
  });
  connect(worker_, &TrainingWorker::numericFailure, this, [this](int, const QString& message) { Q_EMIT error(message); });
  connect(worker_, &TrainingWorker::snapshotReady, this, &TrainingController::snapshotReady);
  thread_.start();
}

TrainingController::~TrainingController() { shutdown(); }

void TrainingController::setState(State s) {
  if (state_ == s) return;
  state_ = s;
  Q_EMIT stateChanged(s);
}

void TrainingController::start(const Config& config, const QString& datasetPath, const QString& runDir) {
  if (busy()) return;
  setState(State::Running);
  worker_->prepare();
  QMetaObject::invokeMethod(worker_, [w = worker_, config, datasetPath, runDir] { w->startRun(config, datasetPath, runDir); },
                            Qt::QueuedConnection);
}

void TrainingController::resumeRun(const QString& runDir) {
  if (busy()) return;
  setState(State::Running);
  worker_->prepare();
  QMetaObject::invokeMethod(worker_, [w = worker_, runDir] { w->resumeRun(runDir); }, Qt::QueuedConnection);
}

void TrainingController::pause() {
  if (state_ != State::Running) return;
  setState(State::Pausing);
  worker_->requestPause();
}

void TrainingController::resume() {
  if (state_ != State::Paused) return;
  setState(State::Running);
  QMetaObject::invokeMethod(worker_, &TrainingWorker::continueRun, Qt::QueuedConnection);
}

void TrainingController::stop() {
  if (state_ == State::Paused) {
    // the paused trainer already wrote its checkpoint; it only needs to be released
    setState(State::Stopping);
    worker_->requestStop();
    QMetaObject::invokeMethod(worker_, &TrainingWorker::continueRun, Qt::QueuedConnection);
    return;
  }
  if (state_ != State::Running && state_ != State::Pausing) return;
  setState(State::Stopping);
  worker_->requestStop();
}

void TrainingController::requestSnapshot() {
  if (state_ == State::Running) worker_->requestSnapshot();
  else QMetaObject::invokeMethod(worker_, &TrainingWorker::snapshotNow, Qt::QueuedConnection);
}

void TrainingController::shutdown() {
  if (!thread_.isRunning()) return;
  worker_->requestStop();
  thread_.quit();
  thread_.wait();
}

}  // namespace moewb
