// Runs a Trainer on its own QThread. Commands arrive as queued slot calls; pause and stop are atomic flags the
// GUI sets directly and the loop reads between steps; results leave as value signals (never tensors).
#pragma once

#include <QObject>
#include <QString>

#include <atomic>
#include <memory>

#include "ui/common/meta_types.h"

namespace moewb {

class TrainingWorker : public QObject {
  Q_OBJECT

 public:
  TrainingWorker();
  ~TrainingWorker() override;

  // Set from the GUI thread; take effect before the next step.
  void requestPause() { pause_ = true; }
  void requestStop() { stop_ = true; }
  // Called by the controller before it queues a start or a resume, so a Stop (or the app closing) that comes
  // before the worker begins is not wiped by the beginning.
  void prepare() { stop_ = false; }
  void requestSnapshot() { snapshot_ = true; }

 public Q_SLOTS:
  void startRun(const moewb::Config& config, const QString& datasetPath, const QString& runDir);
  void resumeRun(const QString& runDir);
  // Continue a paused trainer.
  void continueRun();
  // Produces a snapshot now when the loop is not running (the loop serves requestSnapshot itself): a paused
  // trainer's weights, or those a run ended with.
  void snapshotNow();

 Q_SIGNALS:
  void started(const QString& runDir, const QString& device, int step, int maxIters);
  void stepDone(const moewb::StepReport& report);
  void evalDone(const moewb::EvalReport& report);
  void paused(int step);
  // The run ended (finished or stopped); the latest checkpoint is written and the run folder released (its
  // lock, which says "training" to every reader, goes with the trainer).
  void stopped(int step, bool finished);
  // Also after the run folder was released.
  void failed(const QString& message);
  // Training hit a NaN/inf loss: the step was not applied and training is paused.
  void numericFailure(int step, const QString& message);
  void snapshotReady(const moewb::InferenceModel& model);

 private:
  void loop();

  std::unique_ptr<Trainer> trainer_;
  std::atomic<bool> pause_{false}, stop_{false}, snapshot_{false};
};

}  // namespace moewb
