// No commands: the launcher of `train|resume|bench --nproc N` (local_launcher.h).
#include "app/cli/local_launcher.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace moewb {

namespace {

constexpr int kMaxRanks = 256;
pid_t g_ranks[kMaxRanks];
volatile sig_atomic_t g_rank_count = 0;
volatile sig_atomic_t g_forwarded = 0;  // a stop signal the user sent: ranks it ends are stopped, not failed

// The ranks live in their own process groups, so a terminal's Ctrl-C reaches them only through here.
void forward_signal(int signal) {
  g_forwarded = signal;
  for (int i = 0; i < g_rank_count; ++i)
    if (g_ranks[i] > 0) kill(g_ranks[i], signal);
}

// One write per line: the ranks print to the same stderr at the same moment, and std::cerr writes each piece of a
// chained << on its own, so a rank's message could land in the middle of the launcher's.
void say_line(const std::string& line) {
  const std::string text = line + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

int exit_code(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
  return set;
}

[[noreturn]] void exec_rank(int rank, int nproc, pid_t launcher, const std::string& store,
                            const std::vector<std::string>& args) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGTERM);     // a launcher that dies takes its ranks with it...
  if (getppid() != launcher) _exit(1);  // ...including one that died before the line above
  for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, SIG_DFL);
  const sigset_t blocked = stop_signals();
  sigprocmask(SIG_UNBLOCK, &blocked, nullptr);
  setenv("RANK", std::to_string(rank).c_str(), 1);
  setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
  setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
  setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MOEWB_STORE_FILE", store.c_str(), 1);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  say_line("rank " + std::to_string(rank) + ": cannot start: " + std::strerror(errno));
  _exit(127);
}

// Forks and starts every rank, then says their pids.
void start_ranks(int nproc, const std::string& store, const std::vector<std::string>& args) {
  for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, forward_signal);
  // a signal arriving while the ranks are forked waits until all are known, then reaches all of them once
  const sigset_t stops = stop_signals();
  sigprocmask(SIG_BLOCK, &stops, nullptr);
  const pid_t launcher = getpid();
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = fork();
    if (pid < 0) {
      const std::string why = std::strerror(errno);
      sigprocmask(SIG_UNBLOCK, &stops, nullptr);
      forward_signal(SIGTERM);
      throw std::runtime_error("cannot start rank " + std::to_string(r) + ": " + why);
    }
    if (pid == 0) exec_rank(r, nproc, launcher, store, args);
    g_ranks[r] = pid;
    g_rank_count = r + 1;
  }
  std::string started = "started " + std::to_string(nproc) + " ranks on 127.0.0.1 (pids";
  for (int r = 0; r < nproc; ++r) started += " " + std::to_string(g_ranks[r]);
  say_line(started + ")");
  sigprocmask(SIG_UNBLOCK, &stops, nullptr);
}

// Waits for the started ranks and decides the launcher's exit status.
// After a failure the others end at once when the failed rank's connections closed (a killed peer): they exit
// with kGroupLostExitCode, which is never the cause. One that hangs (stopped, stuck in a kernel) is what the
// group's timeout catches, so they get the shorter of the two, then are named and ended.
class RankWatch {
 public:
  RankWatch(int nproc, std::chrono::seconds timeout)
      : nproc_(nproc), running_(nproc), grace_(std::min<std::chrono::seconds>(timeout, std::chrono::seconds(10))) {}

  int wait() {
    while (running_ > 0) {
      int status = 0;
      const pid_t pid = waitpid(-1, &status, ending_ ? WNOHANG : 0);
      if (pid < 0 && errno == EINTR) continue;
      if (pid < 0) break;
      if (pid == 0) {  // after a failure: waiting for the others to notice it
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline_) stop_the_rest(now);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      ended(pid, status);
    }
    return root_failure_ >= 0 ? root_code_ : lost_rank_ >= 0 ? 1 : stopped_code_;
  }

 private:
  // The first rank to end, for whatever reason, starts the others' grace period.
  void start_ending() {
    if (ending_) return;
    ending_ = true;
    deadline_ = std::chrono::steady_clock::now() + grace_;
  }

  // Past the grace period: SIGTERM to the ranks still running (named, the first time), then SIGKILL 5 s later.
  void stop_the_rest(std::chrono::steady_clock::time_point now) {
    const int cause = root_failure_ >= 0 ? root_failure_ : lost_rank_;
    for (int r = 0; r < nproc_ && !terminated_; ++r)
      if (g_ranks[r] > 0 && cause >= 0)
        say_line("rank " + std::to_string(r) + " (pid " + std::to_string(g_ranks[r]) + ") did not end within " +
                 std::to_string(grace_.count()) + " s of rank " + std::to_string(cause) +
                 "'s failure (hung?): stopping it");
    for (int r = 0; r < g_rank_count; ++r)
      if (g_ranks[r] > 0) kill(g_ranks[r], terminated_ ? SIGKILL : SIGTERM);
    killed_ = terminated_;
    terminated_ = true;
    deadline_ = now + std::chrono::seconds(5);
  }

  // A rank ended: a success, a stop that was asked for, a consequence of another's failure, or the failure.
  void ended(pid_t pid, int status) {
    int rank = 0;
    while (rank < nproc_ && g_ranks[rank] != pid) ++rank;
    if (rank == nproc_) return;
    g_ranks[rank] = -1;  // never signal a reused pid
    --running_;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    // A signal the launcher did not send is a cause, even after the grace period: a rank killed from outside
    // while stuck in the kernel (under heavy I/O) can end after the others noticed and the launcher sent SIGTERM.
    const bool sent_by_launcher =
        WIFSIGNALED(status) && terminated_ && (WTERMSIG(status) == SIGTERM || (killed_ && WTERMSIG(status) == SIGKILL));
    const bool asked_to_stop = (WIFEXITED(status) && WEXITSTATUS(status) >= 128) ||
                               (WIFSIGNALED(status) && (g_forwarded != 0 || sent_by_launcher));
    const bool lost_group = WIFEXITED(status) && WEXITSTATUS(status) == kGroupLostExitCode;
    if (asked_to_stop) {
      stopped_code_ = exit_code(status);
      start_ending();  // a rank stopped while another waits for it (Ctrl-C during the rendezvous)
      return;
    }
    if (lost_group) {
      if (lost_rank_ < 0) lost_rank_ = rank;
    } else if (root_failure_ < 0) {
      root_failure_ = rank;
      root_code_ = exit_code(status);
      say_line("rank " + std::to_string(rank) + " (pid " + std::to_string(pid) + ") " + describe_status(status));
    }
    start_ending();
  }

  const int nproc_;
  int running_;
  const std::chrono::seconds grace_;
  int root_failure_ = -1, root_code_ = 0, lost_rank_ = -1, stopped_code_ = 0;
  std::chrono::steady_clock::time_point deadline_{};
  bool ending_ = false, terminated_ = false, killed_ = false;  // what the launcher itself sent: SIGTERM, then SIGKILL
};

}  // namespace

PrivateTempFolder::PrivateTempFolder(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!mkdtemp(pattern.data()))
    throw std::runtime_error("cannot make a private folder " + pattern + ": " + std::strerror(errno));
  path_ = pattern;
}

PrivateTempFolder::~PrivateTempFolder() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> without_option(int argc, char** argv, const std::string& name) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--" + name) {
      ++i;  // and its value
      continue;
    }
    if (a.rfind("--" + name + "=", 0) == 0) continue;
    out.push_back(a);
  }
  return out;
}

int launch_local_ranks(int nproc, std::chrono::seconds timeout, const std::vector<std::string>& args) {
  if (nproc < 1 || nproc > kMaxRanks)
    throw std::invalid_argument("--nproc: give 1 to " + std::to_string(kMaxRanks) + " processes");
  // the rendezvous is a file in a folder only this user can read: nothing listens beyond 127.0.0.1
  const PrivateTempFolder folder("moewb-ranks");
  start_ranks(nproc, folder.file("store"), args);
  return RankWatch(nproc, timeout).wait();
}

}  // namespace moewb
