// `moewb-cli train|resume --nproc N`: N ranks of the same command on this machine, as torchrun would start
// them (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1), meeting in a file of a private
// temporary folder (MOEWB_STORE_FILE) rather than on a port: nothing listens beyond 127.0.0.1. Each rank runs in
// its own process group, so Ctrl-C, SIGTERM and SIGHUP reach the ranks through the launcher, which forwards
// each to all of them. When a rank fails the launcher names it; the others, whose collectives fail at once when
// a peer's connection closes, end by themselves; any still running after the shorter of the timeout and 10 s
// (a hung rank) are named and ended.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace moewb {

// A rank's exit status when its group failed under it (a peer ended or hung): a consequence, never the cause.
constexpr int kGroupLostExitCode = 75;

// A folder only this user can read, removed with everything in it when this object goes (rendezvous files,
// results the ranks hand back): another user can neither read nor plant them.
class PrivateTempFolder {
 public:
  explicit PrivateTempFolder(const std::string& prefix);  // throws std::runtime_error
  ~PrivateTempFolder();
  PrivateTempFolder(const PrivateTempFolder&) = delete;
  PrivateTempFolder& operator=(const PrivateTempFolder&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// `args` is the command line without --nproc (args[0] is ignored: the ranks run this executable).
// Returns the first failing rank's exit status (128 + signal when killed), else the ranks' common status.
int launch_local_ranks(int nproc, std::chrono::seconds timeout, const std::vector<std::string>& args);

// argv without `--name V` / `--name=V`.
std::vector<std::string> without_option(int argc, char** argv, const std::string& name);

}  // namespace moewb
