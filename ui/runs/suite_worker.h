// Runs the paper's five-run suite on its own thread; stop is an atomic flag read between steps. Each variant's
// steps and evaluations leave as value signals, so the main window can show the suite's current run live.
#pragma once

#include <QObject>
#include <QString>

#include <atomic>

#include "ui/common/meta_types.h"

namespace moewb {

class SuiteWorker : public QObject {
  Q_OBJECT

 public:
  SuiteWorker();
  void requestStop() { stop_ = true; }

 public Q_SLOTS:
  void run(const QString& suiteDir);

 Q_SIGNALS:
  void progress(double fraction, const QString& text);
  // A variant starts training (or resumes at `step`): `index` of `count`.
  void variantStarted(const QString& runDir, const moewb::Config& config, int index, int count, int step);
  void stepDone(const moewb::StepReport& report);
  void evalDone(const moewb::EvalReport& report);
  void variantFinished(const QString& runDir);
  // complete = every variant finished; false after a stop (the suite can be continued).
  void finished(bool complete);
  void failed(const QString& message);

 private:
  std::atomic<bool> stop_{false};
};

}  // namespace moewb
