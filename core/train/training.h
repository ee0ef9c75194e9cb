// One training run and its run folder: config.json, run.json, metrics.csv, checkpoints/,
// routing/ and figures/. The loop is advance() called until done(): the CLI calls it in a loop, the GUI worker
// between pause/stop checks. Every result is a value; torch stays behind the pimpl.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/data/text_dataset.h"
#include "core/inference/inference.h"
#include "core/trace/routing_trace.h"

namespace spdlog {
class logger;
}

namespace moewb {

class Collective;  // collective.h (torch)

struct ConfigError : std::invalid_argument {
  explicit ConfigError(std::vector<FieldError> e) : std::invalid_argument(describe(e)), errors(std::move(e)) {}
  std::vector<FieldError> errors;
};

// The loss became NaN or infinite; the step was not applied.
struct NumericError : std::runtime_error {
  NumericError(int s, const std::string& what) : std::runtime_error(what), step(s) {}
  int step;
};

struct StepReport {
  int step = 0;               // completed iterations
  bool logged = false;        // a metrics row was written; the fields below are set
  double loss = 0;            // mean training cross-entropy since the previous logged step
  double lr = 0;
  double tokens_per_sec = 0;  // training throughput since the previous logged step
  double elapsed_s = 0;       // wall time of the run, across resumes
};

struct EvalReport {
  int step = 0;
  double train_loss = 0, val_loss = 0;
  bool best = false;                // val loss improved; checkpoints/best was written
  std::vector<LayerMetrics> layers; // one per MoE layer
  RoutingTrace snapshot;            // routing of the probe text at this step
  double elapsed_s = 0;
  double peak_memory_mb = 0;
};

struct Progress {
  std::optional<StepReport> step;
  std::optional<EvalReport> eval;
};

class Trainer {
 public:
  static constexpr int kProbeCharacters = 256;

  // Creates the run folder (which must not hold a run yet). An empty run_dir trains without writing files.
  // `start_from` (same architecture as config) replaces the random initialisation: fine-tuning an imported, pruned
  // or upcycled model; `derived_from` (a JSON object: what was done to which run) is kept in run.json.
  // Throws ConfigError, DatasetError or std::runtime_error.
  static std::unique_ptr<Trainer> create(const Config& config, const TextDataset& data, const std::string& run_dir,
                                         const std::string& dataset_path, const InferenceModel* start_from = nullptr,
                                         const std::string& derived_from = {});
  // Continues run_dir from checkpoints/latest.pt (best.pt, with a notice, when latest.pt is missing or damaged);
  // max_iters > 0 extends the schedule. Throws CheckpointError (nothing to resume, or it does not load),
  // ConfigError (max_iters below the run's step) or std::runtime_error (this machine lacks the memory or the
  // disk the run needs: "the run cannot continue here").
  // `read_only`: a data-parallel rank other than 0 reads the folder and never writes or locks it.
  static std::unique_ptr<Trainer> resume(const std::string& run_dir, int max_iters = 0, bool read_only = false);
  ~Trainer();

  // Evaluates when due (step 0, every eval_interval, the last step), otherwise runs one iteration.
  // Throws NumericError when the loss is not finite. Every logged step, evaluation and error is also a line of
  // log() (train.log); the first call says where the run trains.
  Progress advance();
  bool done() const;
  int step() const;
  const Config& config() const;
  const TextDataset& dataset() const;
  const std::string& run_dir() const;
  // Something the user should hear about the run folder (a lock taken over from a killed run), or empty.
  const std::string& notice() const;
  std::string device() const;
  // Writes checkpoints/latest now (stop, quit); a no-op for a run without a folder. In a group every rank calls
  // it (rank 0 writes).
  void save_latest();
  // The run's log (run_log.h): train.log in the folder plus the terminal, if the process has one. Ranks other than
  // 0 of a group log warnings and errors only.
  spdlog::logger& log() const;

  // Data-parallel training (call before the first advance): config.batch_size is the global batch, each rank
  // trains on its batch_size / world_size slice of the same sampled batch, gradients are averaged, evaluation
  // and routing statistics are summed over ranks, and only the rank that owns the folder (rank 0) writes it.
  // Every rank must then call advance(), stop_requested() and save_latest() in the same order.
  // With `expert_parallel` each rank also keeps only n_experts / world_size experts of every MoE layer
  // (expert_parallel.h); checkpoints still hold the whole model, so a run resumes on any number of ranks.
  // Throws ConfigError when the batch or the experts do not split, GroupError when the group fails.
  void join(std::shared_ptr<Collective> group, bool expert_parallel = false);
  // True when `here` is, or (in a group) when any rank asks to stop: one collective, once per loop iteration.
  bool stop_requested(bool here);
  int rank() const;
  int world_size() const;
  bool expert_parallel() const;  // this rank holds only its share of the experts
  // An independent copy of the current weights for generation and tracing (not of an expert-parallel rank,
  // which holds only its experts: std::logic_error).
  InferenceModel snapshot() const;

  struct Impl;

 private:
  explicit Trainer(std::unique_ptr<Impl> impl);
  Progress advance_unlogged();
  std::unique_ptr<Impl> impl_;
};

// Throws ConfigError when config.batch_size does not split over world_size ranks.
void check_world_size(const Config& c, int world_size);
// Throws ConfigError unless `c` is a MoE whose experts split evenly over `world_size` ranks (expert parallelism).
void check_expert_split(const Config& c, int world_size);

// The preset that suits this machine, where the app opens and `moewb-cli train` starts: paper with CUDA, cpu-quick
// without.
std::string machine_preset();
// The ranks of this process's group that run on this machine, and the group's size: the memory check before a
// run counts every rank here (they share its memory), each with its slice of the batch. 1, 1 by default.
void set_ranks_on_this_machine(int local_ranks, int world_size);

}  // namespace moewb
