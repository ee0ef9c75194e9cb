// No commands: what several command groups share (the terminal's logger, the stop signals, default paths, the
// options of the data-parallel and of the model-loading commands).
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <string>

#include "app/cli/cli_options.h"
#include "core/inference/inference.h"

namespace moewb {

constexpr int kDefaultGroupTimeout = 300;

// The terminal: every line that is not a result (progress, notes, errors); set once the options are parsed.
extern spdlog::sink_ptr g_terminal;
extern std::shared_ptr<spdlog::logger> g_log;
void open_terminal(bool verbose);

// Set by the first SIGINT, SIGTERM or SIGHUP once catch_stop_signals() has run; g_signal is the one that came.
extern std::atomic<bool> g_interrupted;
extern std::atomic<int> g_signal;
void catch_stop_signals();

std::string default_dataset();
// <runs directory>/<time>-<kind>, for a new run without --run.
std::string default_run_dir(const Config& c);

// Said once by the launcher rather than by every rank it would start.
void require_distributed();

// --nproc and --timeout of train, resume and bench.
struct GroupOptions {
  int nproc = 1;
  int timeout = kDefaultGroupTimeout;
  bool expert_parallel = false;
  void add_to(CLI::App* app);
  // Said once by the launcher, before any rank starts.
  void check(const Config& c) const;
};

// --checkpoint and --device of the commands that load a model.
struct ModelOptions {
  std::string checkpoint, device = "auto";
  void add_to(CLI::App* app);
  // A checkpoint without a checksum loads with a warning that it is unverified.
  InferenceModel load() const;
};

}  // namespace moewb
