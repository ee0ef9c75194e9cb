// What a finished (or partial) run amounts to, read back from its folder, and the comparison table of several
// runs in the layout of the reference paper (best val loss, training time, generation speed, final losses,
// gap, dropped fraction, load entropy), with the paper's published numbers beside them.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace moewb {

// What the user calls a run: a display name and tags, kept in <run>/meta.json so they travel with the folder.
// The folder keeps its name (other code and other runs refer to the path).
struct RunMeta {
  std::string name;  // empty: the table shows the folder's name
  std::vector<std::string> tags;
};

// Empty when the run has no meta.json; throws std::runtime_error naming the file when it is malformed.
RunMeta read_run_meta(const std::string& dir);
void write_run_meta(const std::string& dir, const RunMeta& meta);  // atomic; throws naming the file

enum class RunStatus {
  finished,  // reached max_iters
  stopped,   // has a checkpoint to resume from
  training,  // a live process holds the folder's lock
  empty      // no checkpoint: failed, or stopped before the first one
};
template <>
struct EnumNames<RunStatus> {  // as the Runs table shows them
  static constexpr std::array<const char*, 4> names{"finished", "stopped (resumable)", "training", "no checkpoint"};
};

struct RunSummary {
  std::string dir, name;  // name: the folder's
  RunMeta meta;
  std::string started;    // "HH:MM" (run_start_time), or empty
  Config config;
  RunStatus status = RunStatus::empty;
  int last_step = 0;
  bool finished = false;
  double best_val = NAN;
  double final_train = NAN, final_val = NAN;  // last evaluation
  double training_time_s = NAN;               // elapsed_s of the last row
  double train_tokens_per_sec = NAN;          // mean over logged rows
  double generation_tokens_per_sec = NAN;     // from summary.json (the suite and the app measure it), else NaN
  double mean_dropped = NAN, mean_load_entropy = NAN;  // over MoE layers, last evaluation
  int64_t parameters = 0;    // from run.json; 0 for runs written before it kept the count
  std::string derived_from;  // "pruned from <run> ..." for a pruned or upcycled model (run.json), else empty
  int ranks = 1;             // the most data-parallel ranks any session of the run trained on (run.json)
  bool experts_split = false;  // a session held only some experts on each rank (expert parallelism)
  double gap() const { return final_val - final_train; }
  // What the table, the legends and the figures call the run: the user's name, else its automatic name
  // ("top-2 · N 4 · cf 1.0 · 15:17", run_name.h).
  std::string display_name() const;
  // Routing, N, k and capacity: "dense", "softmax N=4", "top-2 of 8", "top-2 of 4 cf=0.5", "hash N=8", with
  // " (linear)" for d x d experts.
  std::string kind() const;
};

// Throws std::runtime_error naming the file when config.json, metrics.csv or meta.json is missing or malformed.
RunSummary summarize_run(const std::string& dir);
// RunSummary::display_name() of the run in `dir`, from its meta.json, config.json and start alone; throws
// std::runtime_error naming the file when config.json is missing or either is malformed.
std::string read_display_name(const std::string& dir);
// Writes summary.json with a generation speed measured with the KV cache, batch 1, over `characters` characters
// (the suite: 500 after training; the app: each generation with the cache that ran to its length).
void write_generation_speed(const std::string& dir, double tokens_per_sec, int characters);

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string to_csv() const;
  std::string to_markdown() const;
  std::string to_latex(const std::string& caption) const;
};

// Rows in the given order; percentages relative to the first dense run when there is one.
Table comparison_table(const std::vector<RunSummary>& runs);
// The paper's Table (dynamic-moe-char-transformers.txt): its five runs with their published numbers.
Table paper_table();

}  // namespace moewb
