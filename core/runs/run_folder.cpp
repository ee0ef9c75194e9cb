#include "core/runs/run_folder.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/base/files.h"
#include "core/runs/run_lock.h"

namespace fs = std::filesystem;

namespace moewb {

namespace {
bool is_snapshot_name(const std::string& name) {
  return name.size() > 10 && name.rfind("step_", 0) == 0 && name.compare(name.size() - 5, 5, ".json") == 0;
}
}  // namespace

RunFolder::RunFolder(std::string dir) : dir_(std::move(dir)) {}

RunFolder RunFolder::of_checkpoint(const std::string& checkpoint) {
  return RunFolder(fs::path(checkpoint).parent_path().parent_path().string());
}

std::string RunFolder::file(const char* name) const { return (fs::path(dir_) / name).string(); }

std::string RunFolder::snapshot_file(int step) const {
  char name[32];
  std::snprintf(name, sizeof name, "step_%06d.json", step);
  return (fs::path(routing_dir()) / name).string();
}

bool RunFolder::is_tensorboard_file(const std::string& file_name) { return file_name.rfind(kTensorBoardPrefix, 0) == 0; }

bool RunFolder::holds_run() const { return file_exists(config_file()); }

bool RunFolder::holds_checkpoint() const { return file_exists(latest_checkpoint()) || file_exists(best_checkpoint()); }

std::string RunFolder::writer() const {
  if (!run_folder_locked(dir_)) return {};
  std::ifstream lock(lock_file());
  std::string holder;
  std::getline(lock, holder);
  while (!holder.empty() && std::isspace(static_cast<unsigned char>(holder.back()))) holder.pop_back();
  return holder.rfind("pid ", 0) == 0 ? holder : "another process";
}

Config RunFolder::read_config() const {
  std::vector<FieldError> errors;
  const Config c = config_from_json(read_file(config_file()), Config{}, errors);
  if (!errors.empty()) throw std::runtime_error(config_file() + " is invalid: " + describe(errors));
  return c;
}

nlohmann::json RunFolder::read_run_info() const {
  const std::string text = read_file(run_info_file());
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(run_info_file() + " is malformed: " + e.what());
  }
}

MetricsTable RunFolder::read_metrics() const {
  const std::string text = read_file(metrics_file());
  try {
    return parse_metrics_csv(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(dir_ + "/" + e.what());  // "<dir>/metrics.csv line 3 has ..."
  }
}

RunFolder::Snapshots RunFolder::read_snapshots(const std::set<std::string>& known) const {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(routing_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (is_snapshot_name(name) && !known.count(name) && it->is_regular_file(ec)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());  // zero-padded steps: by name is by step
  Snapshots s;
  for (const std::string& name : names) {
    try {
      s.traces.push_back(RoutingTrace::from_json(read_file((fs::path(routing_dir()) / name).string())));
      s.files.push_back(name);
    } catch (const std::exception& e) {
      s.skipped.push_back(name + ": " + e.what());
    }
  }
  return s;
}

RunFolder::Contents RunFolder::read() const {
  Contents c;
  c.writer = writer();
  c.config = read_config();
  c.metrics = read_metrics();
  c.snapshots = read_snapshots();
  return c;
}

void RunFolder::create() const {
  for (const std::string& sub : {checkpoints_dir(), routing_dir(), figures_dir()}) fs::create_directories(sub);
}

void RunFolder::remove_earlier_attempt() const {
  fs::remove(metrics_file());
  fs::remove_all(routing_dir());
  // TensorBoard would show the earlier attempt's event files beside the new ones
  for (const auto& entry : fs::directory_iterator(dir_))
    if (is_tensorboard_file(entry.path().filename().string())) fs::remove(entry.path());
}

void RunFolder::write_config(const Config& c) const { atomic_write(config_file(), to_json(c) + "\n"); }

void RunFolder::write_run_info(const nlohmann::json& info) const { atomic_write(run_info_file(), info.dump(2) + "\n"); }

void RunFolder::start_metrics(const Config& c) const {
  std::string header;
  for (const auto& column : metrics_columns(c)) header += (header.empty() ? "" : ",") + column;
  atomic_write(metrics_file(), header + "\n");
}

// A row that cannot be written stops the run: a "done" run with missing rows would be silently wrong.
void RunFolder::append_metrics(const Config& c, const MetricsRow& row) const {
  std::ofstream out(metrics_file(), std::ios::app);
  out << format_metrics_row(c, row);
  out.flush();
  if (!out) throw std::runtime_error("cannot append to " + metrics_file() + ": " + std::strerror(errno));
}

void RunFolder::truncate_metrics(int last_step) const {
  atomic_write(metrics_file(), truncate_metrics_csv(read_file(metrics_file()), last_step));
}

void RunFolder::write_snapshot(int step, const RoutingTrace& trace) const {
  atomic_write(snapshot_file(step), trace.to_json());
}

}  // namespace moewb
