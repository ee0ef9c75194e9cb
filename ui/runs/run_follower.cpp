#include "ui/runs/run_follower.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QtConcurrent/QtConcurrentRun>

#include "core/base/files.h"
#include "core/runs/run_lock.h"
#include "core/runs/run_log.h"

namespace moewb {

RunFollower::RunFollower(QObject* parent) : QObject(parent) {
  timer_.setInterval(1000);
  connect(&timer_, &QTimer::timeout, this, &RunFollower::pollNow);
  connect(&watcher_, &QFutureWatcher<Poll>::finished, this, [this] { apply(watcher_.result()); });
}

RunFollower::~RunFollower() { watcher_.waitForFinished(); }

QString RunFollower::writerOf(const QString& runDir) {
  if (!run_folder_locked(runDir.toStdString())) return {};
  QFile lock(runDir + "/run.lock");
  const QString holder = lock.open(QIODevice::ReadOnly) ? QString::fromUtf8(lock.readAll()).simplified() : QString();
  return holder.startsWith("pid ") ? holder : QString("another process");  // run.lock holds "pid N on host"
}

void RunFollower::follow(const QString& runDir, const QList<int>& knownSteps) {
  stop();
  run_dir_ = runDir;
  known_steps_ = knownSteps;
  metrics_size_ = QFileInfo(runDir + "/metrics.csv").size();
  writer_ = writerOf(runDir);
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
std::string log_tail(const QString& path) {
  constexpr qint64 kTail = 64 * 1024;
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) return {};
  if (file.size() > kTail) file.seek(file.size() - kTail);
  return file.readAll().toStdString();
}
}  // namespace

RunFollower::Poll RunFollower::poll(const QString& runDir, qint64 knownSize, const QSet<QString>& knownFiles) {
  Poll p;
  // the writer first: rows and snapshots it wrote before releasing the folder are still read below
  p.writer = writerOf(runDir);
  if (p.writer.isEmpty()) p.error = QString::fromStdString(session_error(log_tail(runDir + "/train.log")));
  p.metrics_size = QFileInfo(runDir + "/metrics.csv").size();
  if (p.metrics_size != knownSize) {
    try {
      p.table = parse_metrics_csv(read_file((runDir + "/metrics.csv").toStdString()));
      p.metrics_read = true;
    } catch (const std::exception&) {
      p.metrics_size = knownSize;  // a row half written: read again at the next poll
    }
  }
  const QDir routing(runDir + "/routing");
  for (const QString& name : routing.entryList({"step_*.json"}, QDir::Files, QDir::Name)) {
    if (knownFiles.contains(name)) continue;
    try {
      p.snapshots << RoutingTrace::from_json(read_file(routing.filePath(name).toStdString()));
      p.snapshot_files << name;
    } catch (const std::exception&) {
      // written atomically, so only a foreign file is unreadable: skipped, as opening the run skips it
    }
  }
  return p;
}

void RunFollower::apply(const Poll& p) {
  if (!following()) return;  // stopped while the poll ran
  if (p.metrics_read) {
    metrics_size_ = p.metrics_size;
    Q_EMIT metricsChanged(p.table);
  }
  QList<RoutingTrace> added;
  for (int i = 0; i < p.snapshots.size(); ++i) {
    known_files_.insert(p.snapshot_files[i]);
    if (known_steps_.contains(p.snapshots[i].step)) continue;  // shown when the run was opened
    known_steps_ << p.snapshots[i].step;
    added << p.snapshots[i];
  }
  if (!added.isEmpty()) Q_EMIT snapshotsAdded(added);
  writer_ = p.writer;
  if (p.writer.isEmpty()) {
    stop();
    Q_EMIT ended(p.error);
  }
}

}  // namespace moewb
