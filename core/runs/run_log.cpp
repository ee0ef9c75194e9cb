#include "core/runs/run_log.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <mutex>

#include "core/runs/run_folder.h"

namespace moewb {

namespace {

class TerminalSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  TerminalSink(std::string prefix, bool backtraces) : prefix_(std::move(prefix)), backtraces_(backtraces) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text(msg.payload.data(), msg.payload.size());
    if (msg.level <= spdlog::level::info) {
      std::fprintf(stdout, "%s\n", text.c_str());
      std::fflush(stdout);  // progress shows at once through a pipe too
      return;
    }
    if (!backtraces_) text = without_backtrace(text);
    const char* kind = msg.level == spdlog::level::warn ? "warning" : "error";
    // a message that already names its rank keeps its own words
    const std::string prefix = text.rfind("rank ", 0) == 0 ? "" : prefix_;
    std::fprintf(stderr, "%s%s: %s\n", prefix.c_str(), kind, text.c_str());
    std::fflush(stderr);
  }
  void flush_() override {
    std::fflush(stdout);
    std::fflush(stderr);
  }

 private:
  const std::string prefix_;
  const bool backtraces_;
};

}  // namespace

spdlog::sink_ptr make_terminal_sink(const std::string& prefix, bool backtraces) {
  return std::make_shared<TerminalSink>(prefix, backtraces);
}

std::shared_ptr<spdlog::logger> make_run_log(const std::string& run_dir) {
  auto log = std::make_shared<spdlog::logger>("run");
  if (run_dir.empty()) return log;
  const std::string path = RunFolder(run_dir).log_file();
  try {
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
    file->set_pattern("%Y-%m-%d %H:%M:%S.%e %-7l %v");
    log->sinks().push_back(file);
  } catch (const spdlog::spdlog_ex& e) {
    std::fprintf(stderr, "warning: the run's log cannot be written (%s); training goes on without it\n", e.what());
    return log;
  }
  auto said = std::make_shared<std::atomic<bool>>(false);
  log->set_error_handler([path, said](const std::string& error) {
    if (!said->exchange(true))
      std::fprintf(stderr, "warning: %s: %s; training goes on, later lines may be missing from it\n", path.c_str(),
                   error.c_str());
  });
  log->flush_on(spdlog::level::trace);  // each line reaches the file at once: a killed run keeps its last words
  return log;
}

std::string session_error(const std::string& train_log) {
  // "2026-12-01 23:19:53.275 error   message": a timestamp, the level padded to 7, the message
  static const std::string kStamp = "0000-00-00 00:00:00.000 ";
  const auto stamped = [](const std::string& line) {
    if (line.size() < kStamp.size() + 8) return false;
    for (size_t i = 0; i < kStamp.size(); ++i)
      if ((kStamp[i] == '0') != (std::isdigit(static_cast<unsigned char>(line[i])) != 0)) return false;
    return true;
  };
  std::string last;  // the last stamped line: a message's later lines (a backtrace) carry no stamp
  size_t start = 0;
  while (start < train_log.size()) {
    size_t end = train_log.find('\n', start);
    if (end == std::string::npos) end = train_log.size();
    std::string line = train_log.substr(start, end - start);
    if (stamped(line)) last = std::move(line);
    start = end + 1;
  }
  if (last.empty() || last.compare(kStamp.size(), 8, "error   ") != 0) return "";
  return without_backtrace(last.substr(kStamp.size() + 8));
}

std::string without_backtrace(const std::string& what) {
  std::string text = what.substr(0, what.find("Exception raised from"));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace moewb
