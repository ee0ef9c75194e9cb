#include "core/runs/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/runs/run_folder.h"

namespace moewb {

namespace {
std::string holder_text(int fd) {
  char buffer[256] = {};
  const ssize_t n = pread(fd, buffer, sizeof buffer - 1, 0);
  std::string text = n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string this_process() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return "pid " + std::to_string(getpid()) + " on " + host;
}
}  // namespace

RunLock::RunLock(const std::string& run_dir) {
  const std::string path = RunFolder(run_dir).lock_file();
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const std::string holder = holder_text(fd_);
    close(fd_);
    throw std::runtime_error("the run folder '" + run_dir + "' is in use by " +
                             (holder.empty() ? std::string("another process") : holder) +
                             ": stop that one first (one writer per run)");
  }
  previous_ = holder_text(fd_);
  if (!write_holder(this_process())) {
    const std::string why = std::strerror(errno);
    close(fd_);
    throw std::runtime_error("cannot write " + path + ": " + why);
  }
}

bool RunLock::write_holder(const std::string& line) {
  const std::string text = line + "\n";
  return ftruncate(fd_, 0) == 0 && pwrite(fd_, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
}

void RunLock::describe(const std::string& role) {
  // only informative: a failed write leaves the plain "pid N on host"
  write_holder(this_process() + ", " + role);
}

RunLock::~RunLock() {
  // empty the file first: a holder named in it is then always one that did not stop cleanly (if emptying
  // fails, the next owner names this process needlessly; nothing else depends on it)
  if (ftruncate(fd_, 0) != 0) previous_.clear();
  close(fd_);  // releases the flock
}

bool run_folder_locked(const std::string& run_dir) {
  const int fd = open(RunFolder(run_dir).lock_file().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // never locked
  const bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);  // releases the probe's shared lock
  return held;
}

}  // namespace moewb
