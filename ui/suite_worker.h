// Runs the paper's five-run suite on its own thread; stop is an atomic flag read between steps.
#pragma once

#include <QObject>
#include <QString>

#include <atomic>

namespace moewb {

class SuiteWorker : public QObject {
  Q_OBJECT

 public:
  void requestStop() { stop_ = true; }

 public Q_SLOTS:
  void run(const QString& suiteDir);

 Q_SIGNALS:
  void progress(double fraction, const QString& text);
  void variantFinished(const QString& runDir);
  // complete = every variant finished; false after a stop (the suite can be continued).
  void finished(bool complete);
  void failed(const QString& message);

 private:
  std::atomic<bool> stop_{false};
};

}  // namespace moewb
