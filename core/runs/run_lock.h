// One writer per run folder: an advisory lock on <run>/run.lock (flock), holding "pid N on host". The kernel drops
// the lock when its process dies, so a lock left by a killed run is taken over at once; its file still names
// the previous holder, which the new owner reports. Readers (the app opening a run) never lock.
#pragma once

#include <string>

namespace moewb {

class RunLock {
 public:
  // Throws std::runtime_error naming the holder's pid and host when another writer holds the folder.
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Adds what this holder is to its line ("pid 123 on host, rank 0 of 4"): readers following the run show it.
  void describe(const std::string& role);

  // "pid 123 on host" of a writer that ended without releasing the folder (killed), or empty.
  const std::string& previousHolder() const { return previous_; }

 private:
  bool write_holder(const std::string& line);
  int fd_ = -1;
  std::string previous_;
};

// Whether a live process holds the folder's lock now (the Runs table's "training"). Never blocks and never
// creates run.lock. It takes a shared lock for the instant of the probe: a writer starting in that same
// instant is told the folder is in use, as it would be by any reader's probe.
bool run_folder_locked(const std::string& run_dir);

}  // namespace moewb
