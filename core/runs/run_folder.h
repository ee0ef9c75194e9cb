// A run folder: the one place that names its files, writes them (atomically, except the two that grow by
// appending) and reads them back. What a folder holds:
//   config.json               the run's Config (config.h)
//   run.json                  how it started: dataset, device, precision, parameters, derived_from, data_parallel
//   meta.json                 the user's name and tags (RunMeta, run_summary.h)
//   metrics.csv               one row per logged or evaluated step (metrics_csv.h), appended
//   summary.json              measured after training: the generation speed
//   routing/step_NNNNNN.json  the probe text's routing at each evaluation (RoutingTrace)
//   checkpoints/latest.pt     the last evaluation's model and optimizer; best.pt: the best validation loss's
//   figures/                  "export all figures"
//   train.log                 every session's log (run_log.h), appended
//   run.lock                  held by the process that writes the run (run_lock.h)
//   events.out.tfevents.*     the metrics again, for TensorBoard
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/runs/metrics_csv.h"
#include "core/trace/routing_trace.h"

namespace moewb {

// A checkpoint or run folder that cannot be loaded or resumed: one line naming the file and the reason.
struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class RunFolder {
 public:
  explicit RunFolder(std::string dir);
  static RunFolder of_checkpoint(const std::string& checkpoint);  // <run>/checkpoints/x.pt -> <run>
  const std::string& dir() const { return dir_; }

  std::string config_file() const { return file("config.json"); }
  std::string run_info_file() const { return file("run.json"); }
  std::string meta_file() const { return file("meta.json"); }
  std::string metrics_file() const { return file("metrics.csv"); }
  std::string summary_file() const { return file("summary.json"); }
  std::string log_file() const { return file("train.log"); }
  std::string lock_file() const { return file("run.lock"); }
  std::string routing_dir() const { return file("routing"); }
  std::string snapshot_file(int step) const;
  std::string checkpoints_dir() const { return file("checkpoints"); }
  std::string latest_checkpoint() const { return file("checkpoints/latest.pt"); }
  std::string best_checkpoint() const { return file("checkpoints/best.pt"); }
  std::string figures_dir() const { return file("figures"); }
  static constexpr const char* kTensorBoardPrefix = "events.out.tfevents.";  // then time, host and pid
  static bool is_tensorboard_file(const std::string& file_name);

  bool holds_run() const;         // has a config.json: a run was started here
  bool holds_checkpoint() const;  // latest.pt or best.pt: there is a model to resume or open
  // The process writing the run now, as run.lock names it ("pid N on host"; "another process" when the lock says
  // nothing readable), or empty when none holds the folder.
  std::string writer() const;

  // Reading. Each throws std::runtime_error naming the file and what is wrong with it.
  // Parsed, not validated: viewing a run needs no model; what builds one (resume, loading a checkpoint) validates.
  Config read_config() const;
  nlohmann::json read_run_info() const;
  MetricsTable read_metrics() const;
  // The routing snapshots in step order, leaving out the files in `known`. A file that cannot be read is skipped and
  // named in `skipped` with the reason: snapshots are written atomically, so only a foreign file is unreadable.
  struct Snapshots {
    std::vector<RoutingTrace> traces;
    std::vector<std::string> files;    // their file names, as `known` takes them
    std::vector<std::string> skipped;  // "step_000100.json: <reason>"
  };
  Snapshots read_snapshots(const std::set<std::string>& known = {}) const;

  // What opening a run shows, in one call: who writes it, its config, its metrics and its snapshots. The writer is
  // read first, so what it writes while the rest is read is new to a follower that starts from these contents.
  struct Contents {
    std::string writer;
    Config config;
    MetricsTable metrics;
    Snapshots snapshots;
  };
  Contents read() const;

  // Writing, by the trainer that holds the folder's lock.
  void create() const;                     // the folder and its subfolders
  void remove_earlier_attempt() const;     // metrics, snapshots and event files of a run that never checkpointed
  void write_config(const Config& c) const;
  void write_run_info(const nlohmann::json& info) const;
  void start_metrics(const Config& c) const;  // the header row
  void append_metrics(const Config& c, const MetricsRow& row) const;  // flushed; throws when it cannot be written
  void truncate_metrics(int last_step) const;  // a resumed run drops the rows after its checkpoint
  void write_snapshot(int step, const RoutingTrace& trace) const;

 private:
  std::string file(const char* name) const;
  std::string dir_;
};

}  // namespace moewb
