#include "ui/training/training_worker.h"

#include "core/train/training_loop.h"

namespace moewb {

TrainingWorker::TrainingWorker() = default;
TrainingWorker::~TrainingWorker() = default;

void TrainingWorker::startRun(const Config& config, const QString& datasetPath, const QString& runDir) {
  trainer_.reset();
  try {
    TextDataset data = TextDataset::from_file(datasetPath.toStdString());
    trainer_ = Trainer::create(config, data, runDir.toStdString(), datasetPath.toStdString());
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromStdString(e.what()));
    return;
  }
  loop();
}

void TrainingWorker::resumeRun(const QString& runDir) {
  trainer_.reset();
  try {
    trainer_ = Trainer::resume(runDir.toStdString());
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromStdString(e.what()));
    return;
  }
  loop();
}

void TrainingWorker::continueRun() {
  if (trainer_) loop();
}

void TrainingWorker::snapshotNow() {
  if (trainer_) Q_EMIT snapshotReady(trainer_->snapshot());
}

void TrainingWorker::loop() {
  pause_ = false;
  const Config& c = trainer_->config();
  Q_EMIT started(QString::fromStdString(trainer_->run_dir()), QString::fromStdString(trainer_->device()),
                 trainer_->step(), c.max_iters);
  try {
    TrainingLoop loop;
    loop.before_step = [this] {
      if (snapshot_.exchange(false)) Q_EMIT snapshotReady(trainer_->snapshot());
    };
    loop.stop = [this] { return stop_.load(); };
    loop.pause = [this] { return pause_.load(); };
    loop.on_progress = [this](const Progress& p) {
      if (p.step) Q_EMIT stepDone(*p.step);
      if (p.eval) Q_EMIT evalDone(*p.eval);
    };
    const LoopEnd end = run_training_loop(*trainer_, loop);
    if (end == LoopEnd::paused) {
      Q_EMIT paused(trainer_->step());
      return;
    }
    if (end == LoopEnd::finished) trainer_->save_latest();
    const int step = trainer_->step();
    const bool finished = trainer_->done();
    // the run folder's lock goes with the trainer, before saying so: whoever hears it reads the folder's status
    // (generation and traces then load the checkpoint just written)
    trainer_.reset();
    Q_EMIT stopped(step, finished);
  } catch (const NumericError& e) {
    // No checkpoint here: the last good one stays. The weights in memory may be damaged, so Resume must not
    // continue from them: reload the last checkpoint and pause there.
    QString message = QString::fromStdString(e.what());
    const std::string run_dir = trainer_->run_dir();
    trainer_.reset();  // releases the run folder's lock for the reload
    try {
      trainer_ = Trainer::resume(run_dir);
      message += QString("; rolled back to the checkpoint of step %1").arg(trainer_->step());
    } catch (const CheckpointError&) {
      trainer_.reset();
      Q_EMIT numericFailure(e.step, message + "; there is no checkpoint to roll back to: start again");
      Q_EMIT failed(message);
      return;
    } catch (const std::exception& reload) {  // e.g. the memory or the disk the run needs is gone
      trainer_.reset();
      message += QString("; it cannot roll back to its last checkpoint: %1").arg(QString::fromStdString(reload.what()));
      Q_EMIT numericFailure(e.step, message);
      Q_EMIT failed(message);
      return;
    }
    Q_EMIT numericFailure(e.step, message);
    Q_EMIT paused(trainer_->step());
  } catch (const std::exception& e) {
    trainer_.reset();
    Q_EMIT failed(QString::fromStdString(e.what()));
  }
}

}  // namespace moewb
