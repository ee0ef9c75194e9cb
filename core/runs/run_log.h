// Log lines through spdlog. A run's lines (its start, every logged step and evaluation, stops, errors) go to the
// run folder's train.log, with time and level, and to the terminal when there is one (the CLI). On the terminal
// info lines go to stdout as they are and problems to stderr as "warning: ..." / "error: ...", so a pipe keeps
// progress apart from problems; results (tables, generated text) are not log lines and go to stdout directly.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace moewb {

// The terminal. `prefix` starts every warning and error (a data-parallel rank: "rank 1: "); LibTorch's C++
// backtrace is cut from them unless `backtraces` (--verbose). train.log always keeps it.
spdlog::sink_ptr make_terminal_sink(const std::string& prefix, bool backtraces);

// A run's logger: appends to <run_dir>/train.log (no sink when run_dir is empty). The CLI adds its terminal sink
// to the run it trains in the foreground; runs inside a suite, a benchmark, the app or a test write train.log
// alone. A failed write to train.log is said once on stderr and never stops training: metrics.csv and the
// checkpoints are the run's record, and their writes do stop it.
std::shared_ptr<spdlog::logger> make_run_log(const std::string& run_dir);

// The error that ended the last session of a run, from its train.log's text: the message of the last line when
// that line is an error (its first line: a backtrace follows), else empty (the session ended cleanly, was killed,
// or is still running).
std::string session_error(const std::string& train_log);

// LibTorch's errors carry a C++ backtrace after "Exception raised from": the text before it.
std::string without_backtrace(const std::string& what);

}  // namespace moewb
