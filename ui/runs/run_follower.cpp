#include "ui/runs/run_follower.h"

#include <QFile>
#include <QFileInfo>
#include <QtConcurrent/QtConcurrentRun>

#include "core/runs/run_log.h"

namespace moewb {

RunFollower::RunFollower(QObject* parent) : QObject(parent) {
  timer_.setInterval(1000);
  connect(&timer_, &QTimer::timeout, this, &RunFollower::pollNow);
  connect(&watcher_, &QFutureWatcher<Poll>::finished, this, [this] { apply(watcher_.result()); });
}

RunFollower::~RunFollower() { watcher_.waitForFinished(); }

void RunFollower::follow(const QString& runDir, const QList<int>& knownSteps) {
  stop();
  run_dir_ = runDir;
  known_steps_ = knownSteps;
  const RunFolder folder(runDir.toStdString());
  metrics_size_ = QFileInfo(QString::fromStdString(folder.metrics_file())).size();
  writer_ = QString::fromStdString(folder.writer());
  timer_.start();
}

void RunFollower::stop() {
  timer_.stop();
  run_dir_.clear();
  writer_.clear();
  known_files_.clear();
  known_steps_.clear();
  metrics_size_ = -1;
}

void RunFollower::pollNow() {
  if (!following() || watcher_.isRunning()) return;
  watcher_.setFuture(QtConcurrent::run(&RunFollower::poll, run_dir_, metrics_size_, known_files_));
}

namespace {
// The end of a run's log: its last session's last lines, whatever the log's length.
std::string log_tail(const std::string& path) {
  constexpr qint64 kTail = 64 * 1024;
  QFile file(QString::fromStdString(path));
  if (!file.open(QIODevice::ReadOnly)) return {};
  if (file.size() > kTail) file.seek(file.size() - kTail);
  return file.readAll().toStdString();
}
}  // namespace

RunFollower::Poll RunFollower::poll(const QString& runDir, qint64 knownSize, const std::set<std::string>& knownFiles) {
  const RunFolder folder(runDir.toStdString());
  Poll p;
  // the writer first: rows and snapshots it wrote before releasing the folder are still read below
  p.writer = QString::fromStdString(folder.writer());
  if (p.writer.isEmpty()) p.error = QString::fromStdString(session_error(log_tail(folder.log_file())));
  p.metrics_size = QFileInfo(QString::fromStdString(folder.metrics_file())).size();
  if (p.metrics_size != knownSize) {
    try {
      p.table = folder.read_metrics();
      p.metrics_read = true;
    } catch (const std::exception&) {
      p.metrics_size = knownSize;  // a row half written: read again at the next poll
    }
  }
  // an unreadable snapshot is skipped, as opening the run skips it (and said there)
  p.snapshots = folder.read_snapshots(knownFiles);
  return p;
}

void RunFollower::apply(const Poll& p) {
  if (!following()) return;  // stopped while the poll ran
  if (p.metrics_read) {
    metrics_size_ = p.metrics_size;
    Q_EMIT metricsChanged(p.table);
  }
  QList<RoutingTrace> added;
  for (size_t i = 0; i < p.snapshots.traces.size(); ++i) {
    const RoutingTrace& trace = p.snapshots.traces[i];
    known_files_.insert(p.snapshots.files[i]);
    if (known_steps_.contains(trace.step)) continue;  // shown when the run was opened
    known_steps_ << trace.step;
    added << trace;
  }
  if (!added.isEmpty()) Q_EMIT snapshotsAdded(added);
  writer_ = p.writer;
  if (p.writer.isEmpty()) {
    stop();
    Q_EMIT ended(p.error);
  }
}

}  // namespace moewb
