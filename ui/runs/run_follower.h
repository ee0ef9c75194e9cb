// Follows a run folder that another process writes — `moewb-cli train` in a terminal, a run on a shared or synced
// folder: once a second, off the GUI thread, it looks whether metrics.csv grew, which routing snapshots are new
// and whether the writer still holds the folder, and reports what changed. Read-only: it never takes the lock.
// It stops by itself when the writer releases the folder (the run finished, stopped or died).
#pragma once

#include <QFutureWatcher>
#include <QObject>
#include <QTimer>

#include <set>
#include <string>

#include "core/runs/metrics_csv.h"
#include "core/runs/run_folder.h"
#include "core/trace/routing_trace.h"

namespace moewb {

class RunFollower : public QObject {
  Q_OBJECT

 public:
  explicit RunFollower(QObject* parent = nullptr);
  ~RunFollower() override;  // waits for a poll in flight

  // Starts following; the snapshots already shown (by step) and the metrics file's size are not reported again.
  void follow(const QString& runDir, const QList<int>& knownSteps);
  void stop();
  bool following() const { return !run_dir_.isEmpty(); }
  QString runDir() const { return run_dir_; }
  QString writer() const { return writer_; }
  void setInterval(int ms) { timer_.setInterval(ms); }
  // Polls at once (tests; the timer does it otherwise).
  void pollNow();

 Q_SIGNALS:
  void metricsChanged(const moewb::MetricsTable& table);
  void snapshotsAdded(const QList<moewb::RoutingTrace>& snapshots);  // in step order
  // The writer released the folder: nothing more will come. `error`: what ended its session, from train.log
  // (empty when it stopped cleanly or was killed without a word).
  void ended(const QString& error);

 private:
  struct Poll {
    QString writer;
    QString error;  // once the writer is gone: the error that ended its session
    qint64 metrics_size = -1;
    bool metrics_read = false;
    MetricsTable table;
    RunFolder::Snapshots snapshots;  // the files not read before
  };
  static Poll poll(const QString& runDir, qint64 knownSize, const std::set<std::string>& knownFiles);
  void apply(const Poll& p);

  QString run_dir_, writer_;
  qint64 metrics_size_ = -1;
  std::set<std::string> known_files_;  // snapshot files read before
  QList<int> known_steps_;
  QTimer timer_;
  QFutureWatcher<Poll> watcher_;
};

}  // namespace moewb
