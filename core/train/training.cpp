// The training loop (nanoGPT train.py): cosine learning rate with warm-up, AdamW with decay on matrices only,
// gradient clipping, periodic evaluation with routing metrics and snapshots, atomic checkpoints.
#include "core/train/training.h"

#include <chrono>
#include <filesystem>
#include <sstream>
#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/base/files.h"
#include "core/base/numbers.h"
#include "core/base/process_memory.h"
#include "core/config/memory_estimate.h"
#include "core/distributed/gradient_sync.h"
#include "core/inference/inference_impl.h"
#include "core/inference/model_routing.h"
#include "core/model/batches.h"
#include "core/model/checkpoint.h"
#include "core/model/machine.h"
#include "core/model/precision.h"
#include "core/model/randomness.h"
#include "core/runs/disk_space.h"
#include "core/runs/metrics_csv.h"
#include "core/runs/run_folder.h"
#include "core/runs/run_lock.h"
#include "core/runs/run_log.h"
#include "core/train/expert_parallel.h"
#include "core/train/optimizer.h"
#ifdef MOEWB_TENSORBOARD
#include "core/tensorboard/tensorboard_writer.h"
#endif

namespace moewb {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;


namespace {
std::atomic<int> ranks_here{1}, ranks_in_group{1};
}

void set_ranks_on_this_machine(int local_ranks, int world_size) {
  ranks_here = std::max(1, local_ranks);
  ranks_in_group = std::max(1, world_size);
}

std::string machine_preset() { return cuda_available() ? "paper" : "cpu-quick"; }

namespace {

constexpr const char* kRunFormat = "moewb-run-1";

// Copies weights between two models of one architecture (any devices).
void copy_parameters(const GPT& from, const GPT& to) {
  torch::NoGradGuard no_grad;
  auto source = from->parameters(), target = to->parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].copy_(source[i]);
}

// Same vocabulary and the same parameter shapes in the same order.
bool fits(const InferenceModel& start, const Config& c, const Vocabulary& vocab) {
  if (!(start.vocab() == vocab)) return false;
  const Config& s = start.config();
  return s.n_layer == c.n_layer && s.n_embd == c.n_embd && s.block_size == c.block_size && s.bias == c.bias &&
         s.ffn == c.ffn && (!c.is_moe() || (s.n_experts == c.n_experts && s.expert_shape == c.expert_shape &&
                                           s.expert_hidden_units() == c.expert_hidden_units() &&
                                           (s.routing == RoutingMode::hash) == (c.routing == RoutingMode::hash)));
}

double lr_at(const Config& c, int it) {
  if (it < c.warmup_iters) return c.learning_rate * (it + 1) / (c.warmup_iters + 1);
  if (it > c.lr_decay_iters) return c.min_lr;
  const double ratio = static_cast<double>(it - c.warmup_iters) / std::max(1, c.lr_decay_iters - c.warmup_iters);
  const double coeff = 0.5 * (1.0 + std::cos(M_PI * ratio));
  return c.min_lr + coeff * (c.learning_rate - c.min_lr);
}

}  // namespace

namespace {

std::string rng_state(const std::mt19937_64& rng) {
  std::ostringstream s;
  s << rng;
  return s.str();
}

const char* kNumericAdvice = " (try a lower learning rate or gradient clipping)";

std::string non_finite(double loss) { return std::isnan(loss) ? "NaN" : "infinite"; }

// The loss of this step was checked before the update: the weights are still those of the previous step.
NumericError numeric_error(double loss, int step) {
  return NumericError(step, "the training loss became " + non_finite(loss) + " at step " + std::to_string(step) +
                                "; training stopped before applying it" + kNumericAdvice);
}

// The loss is read on log steps only (a read per step would stall a GPU): a divergence found later happened
// somewhere after the last finite reading, and the weights in memory are damaged.
NumericError numeric_error_since(double loss, int last_finite, int step, const std::string& where) {
  return NumericError(step, "the " + where + " loss became " + non_finite(loss) + " between step " +
                                std::to_string(last_finite) + " and step " + std::to_string(step) +
                                "; the weights in memory are damaged, nothing of them was saved" + kNumericAdvice);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
struct Trainer::Impl {
  Config config;
  TextDataset data;
  std::string run_dir, dataset_path;
  torch::Device device{torch::kCPU};
  Precision precision = Precision::fp32;
  GPT model{nullptr};
  std::unique_ptr<TrainingOptimizer> optimizer;
  torch::Tensor train_split, val_split;
  std::mt19937_64 rng;
  at::Generator cpu_rng;  // dropout and jitter draws of this run on the CPU (randomness.h)
  int step = 0, last_eval_step = -1;
  int last_finite_step = 0;  // the last step whose loss was read and finite
  double best_val = 1e30, elapsed_before = 0;
  Clock::time_point session_start = Clock::now(), window_start = Clock::now();
  torch::Tensor loss_acc;  // on the device: summed without a host sync per step
  int loss_count = 0, window_tokens = 0;
  std::unique_ptr<RunLock> lock;  // held while this trainer may write the folder
  std::string notice;
  std::shared_ptr<spdlog::logger> log;  // train.log (the writer only) and the terminal
  int session_first_step = 0;           // where this process took the run up: the ETA's baseline
  bool announced = false, resumed = false;
  std::string origin;  // what a derived run was made from (run.json's derived_from summary), for its first line
  bool read_only = false;              // another rank of the group writes the folder
  std::shared_ptr<Collective> group;   // data-parallel training: the other ranks
  std::unique_ptr<GradientSync> sync;
  std::unique_ptr<ExpertParallel> experts;  // expert-parallel training: this rank's experts
#ifdef MOEWB_TENSORBOARD
  std::unique_ptr<TensorBoardWriter> tensorboard;  // the metrics rows again, for `tensorboard --logdir`
#endif

  bool writes_files() const { return !run_dir.empty() && !read_only; }
  RunFolder folder() const { return RunFolder(run_dir); }
  bool holds_checkpoint() const { return folder().holds_checkpoint(); }
  // A folder whose run never reached its first checkpoint holds nothing to resume: a new run may start there.
  void refuse_a_run_in_the_folder() const {
    if (folder().holds_run() && holds_checkpoint())
      throw std::runtime_error("'" + run_dir + "' already holds a run: resume it or choose another folder");
  }

  // Refuses, before anything is allocated or trained, a run that cannot fit this machine's memory or whose
  // checkpoints cannot fit the run folder's disk: an out-of-memory kill says nothing, and a disk that fills at
  // the first save stops a run that has trained until then. Needs `device` and `data`. A resumed run cannot change
  // its config: its shortage is this machine's, not an invalid configuration.
  void check_resources(const Config& c, bool resuming) const {
    const bool cuda = device.is_cuda();
    const int here = ranks_here;
    const int vocab = static_cast<int>(data.vocab.size());
    MemoryEstimate need =
        estimate_for_ranks(c, vocab, static_cast<int64_t>(data.tokens.size()), cuda, here, ranks_in_group);
    if (!cuda) need.dataset_bytes = 0;  // already loaded (by every rank here), so no longer in MemAvailable
    const std::string machine =
        here > 1 ? "this machine, shared by " + std::to_string(here) + " ranks," : "this machine";
    std::vector<FieldError> errors = check_memory(need, cuda ? device_memory_bytes(device) : available_host_memory(),
                                                  cuda ? "the GPU" : machine, resuming);
    if (writes_files()) {
      double present = 0;  // a resumed run's checkpoints, which the new ones replace
      for (const std::string& file : {folder().latest_checkpoint(), folder().best_checkpoint()}) {
        std::error_code ec;
        const auto bytes = fs::file_size(file, ec);
        if (!ec) present += static_cast<double>(bytes);
      }
      for (const FieldError& e : check_checkpoint_space(checkpoint_file_bytes(c, vocab), present,
                                                        free_disk_bytes(run_dir), run_dir, need.weights, resuming))
        errors.push_back(e);
    }
    if (errors.empty()) return;
    if (!resuming) throw ConfigError(errors);
    std::string reasons;
    for (const FieldError& e : errors) reasons += (reasons.empty() ? "" : "; ") + e.message;
    throw std::runtime_error("the run cannot continue here: " + reasons);
  }
  int rank() const { return group ? group->rank() : 0; }
  int world() const { return group ? group->world_size() : 1; }
  // The mean over ranks of scalars on the device (each rank's mean of its shard); one collective.
  std::vector<double> mean_over_ranks(const std::vector<torch::Tensor>& scalars) {
    auto packed = torch::stack(scalars).to(torch::kCPU, torch::kFloat64);
    if (group) group->sum(packed);
    std::vector<double> out;
    for (int i = 0; i < packed.size(0); ++i) out.push_back(packed[i].item<double>() / world());
    return out;
  }
  void take_lock() {
    lock = std::make_unique<RunLock>(run_dir);
    if (!lock->previousHolder().empty())
      notice = "took over '" + run_dir + "' from " + lock->previousHolder() + ", which did not stop cleanly";
    // half-written files of a killed writer (atomic_write's *.tmp): the folder is ours now
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(run_dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_regular_file() && it->path().extension() == ".tmp") fs::remove(it->path(), ec);
  }

  // Resuming (defined beside Trainer::resume).
  void check_checkpoint_matches(const LoadedCheckpoint& ck, const Config& on_disk, int max_iters,
                                const nlohmann::json& run);
  void restore(LoadedCheckpoint& ck);

  // latest.pt, or best.pt with a notice when latest.pt fails its checks.
  LoadedCheckpoint load_latest() {
    try {
      return load_checkpoint(folder().latest_checkpoint(), device);
    } catch (const CheckpointError& latest_error) {
      if (!file_exists(folder().best_checkpoint())) throw;
      LoadedCheckpoint best = load_checkpoint(folder().best_checkpoint(), device);
      notice += (notice.empty() ? "" : "; ") + std::string(latest_error.what()) + ": resumed from best.pt at step " +
                std::to_string(best.meta.step) + " instead";
      return best;
    }
  }
  double elapsed() const {
    return elapsed_before + std::chrono::duration<double>(Clock::now() - session_start).count();
  }

  // The first line of a session: where the run trains and on what.
  void announce() {
    announced = true;
    session_first_step = step;
    session_start = Clock::now();
    std::string where = device_name(device) + " (" + precision_name(precision) + ")";
    if (world() > 1)
      where += " x " + std::to_string(world()) + " ranks (global batch " + std::to_string(config.batch_size) +
               (experts ? ", " + std::to_string(experts->experts_per_rank()) + " experts per rank" : "") + ")";
    log->info("run {} {} on {}, {} ({} chars, vocab {})", run_dir.empty() ? "(no folder)" : run_dir,
              resumed ? "resumed at step " + std::to_string(step) : std::string("started"), where, data.name,
              data.tokens.size(), data.vocab.size());
    if (!origin.empty()) log->info("{}", origin);
    if (!notice.empty()) log->warn("{}", notice);
  }
  void log_progress(const Progress& p) {
    if (p.step && p.step->logged) {
      const double seconds = std::chrono::duration<double>(Clock::now() - session_start).count();
      const double eta = (config.max_iters - step) * seconds / std::max(1, step - session_first_step);
      log->info("step {}/{} | loss {:.4f} | lr {:.2e} | {:.0f} tok/s | ETA {}", step, config.max_iters, p.step->loss,
                p.step->lr, p.step->tokens_per_sec, format_duration(eta));
    }
    if (p.eval) {
      std::string entropy;
      for (const auto& layer : p.eval->layers)
        entropy += fmt::format("{}{:.3f}", entropy.empty() ? " | load entropy " : " ", layer.load_entropy);
      log->info("step {}: train loss {:.4f}, val loss {:.4f}{}{}", p.eval->step, p.eval->train_loss,
                p.eval->val_loss, p.eval->best ? " (best)" : "", entropy);
    }
  }
  // Runs f; an exception it throws is first written to the log (train.log keeps LibTorch's backtrace).
  template <typename F>
  auto logged(F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const std::exception& e) {
      log->error("{}", e.what());
      throw;
    }
  }

  void prepare_data() {
    train_split = token_split(data, 0, data.n_train).to(device);
    val_split = token_split(data, data.n_train, static_cast<int64_t>(data.tokens.size())).to(device);
    loss_acc = torch::zeros({}, torch::TensorOptions().device(device));
  }

  void append_metrics(const MetricsRow& row) {
    if (!writes_files()) return;
    folder().append_metrics(config, row);
#ifdef MOEWB_TENSORBOARD
    if (tensorboard) tensorboard->row(row);
#endif
  }

  // The files an evaluation produces, written after its metrics row: a checkpoint never covers a row that is
  // not on disk (a kill in between leaves an older checkpoint, and resume drops the newer rows).
  void persist(const EvalReport& r) {
    const double loss_sum = window_loss_sum();  // a collective: every rank of a group comes here
    const auto whole = whole_experts();
    if (!writes_files()) return;
    folder().write_snapshot(r.step, r.snapshot);
    if (r.best) save(folder().best_checkpoint(), loss_sum);
    save(folder().latest_checkpoint(), loss_sum);
  }

  // Expert parallelism: every expert on rank 0 while it writes a checkpoint (collective; none when no rank
  // writes, as in a benchmark).
  std::unique_ptr<ExpertParallel::Whole> whole_experts() {
    if (!experts || !group->any(writes_files())) return nullptr;
    return std::make_unique<ExpertParallel::Whole>(*experts);
  }

  // The training losses summed since the last log step, averaged over ranks, for the checkpoint.
  double window_loss_sum() { return mean_over_ranks({loss_acc})[0]; }

  CheckpointMeta meta(double loss_sum) const {
    CheckpointMeta m;
    m.config = config;
    m.vocab = data.vocab;
    m.step = step;
    m.last_eval_step = last_eval_step;
    m.best_val = best_val;
    m.elapsed_s = elapsed();
    m.loss_sum = loss_sum;
    m.loss_count = loss_count;
    m.batch_rng = rng_state(rng);
    m.torch_rng = cpu_rng.get_state();
    if (device.is_cuda()) {
      auto gen = at::globalContext().defaultGenerator(device);
      std::lock_guard<std::mutex> lock(gen.mutex());
      m.cuda_rng = gen.get_state();
    }
    return m;
  }

  void save(const std::string& checkpoint, double loss_sum) {
    if (!writes_files()) return;
    const OptimizerState state = [this](torch::serialize::OutputArchive& archive) { optimizer->save(archive); };
    save_checkpoint(checkpoint, model, optimizer ? state : OptimizerState(), meta(loss_sum));
  }

  StepReport train_iteration() {
    model->train();
    const double lr = lr_at(config, step);
    optimizer->set_lr(lr);
    Batch b = sample_batch(train_split, config.batch_size, config.block_size, rng, rank(), world());
    GPTOutput out;
    {
      AutocastScope autocast(precision, device);
      out = model->forward(b.x, b.y);
    }
    optimizer->zero_grad();
    if (sync) sync->arm();
    optimizer->backward(out.loss, [this] {
      if (sync) sync->finish();
      if (experts) experts->finish_gradients();
    });
    const bool log_now = (step + 1) % config.log_interval == 0 || step + 1 == config.max_iters;
    // On a log step the loss is checked before the update, so a NaN never reaches the weights logged. In a
    // group every rank checks the same means, so all stop together.
    double logged_sum = 0;
    if (log_now) {
      const auto means = mean_over_ranks({loss_acc, out.ce.detach()});
      if (loss_count && !std::isfinite(means[0]))
        throw numeric_error_since(means[0], last_finite_step, step, "training");
      if (!std::isfinite(means[1])) throw numeric_error(means[1], step + 1);
      logged_sum = means[0] + means[1];
    }
    optimizer->step();
    loss_acc += out.ce.detach();
    ++loss_count;
    ++step;
    window_tokens += config.batch_size * config.block_size;
    StepReport r;
    r.step = step;
    r.lr = lr;
    if (!log_now) return r;
    const double loss = logged_sum / loss_count;
    last_finite_step = step;
    r.logged = true;
    r.loss = loss;
    r.tokens_per_sec = window_tokens / std::chrono::duration<double>(Clock::now() - window_start).count();
    r.elapsed_s = elapsed();
    loss_acc.zero_();
    loss_count = 0;
    window_tokens = 0;
    window_start = Clock::now();
    return r;
  }

  // Summed on the device (in double, as the host would) and read once.
  double split_loss(const torch::Tensor& split, LayerStatsOnDevice* stats) {
    std::mt19937_64 eval_rng(static_cast<uint64_t>(config.seed) + 1);  // the same batches at every evaluation
    AutocastScope autocast(precision, device);
    auto total = torch::zeros({}, split.options().dtype(torch::kFloat64));
    for (int i = 0; i < config.eval_iters; ++i) {
      Batch b = sample_batch(split, config.batch_size, config.block_size, eval_rng, rank(), world());
      std::vector<RouterOutput> routing;
      total += model->forward(b.x, b.y, stats ? &routing : nullptr).ce.to(torch::kFloat64);
      if (stats) stats->add(routing, config.routing);
    }
    return mean_over_ranks({total})[0] / config.eval_iters;
  }

  EvalReport evaluate() {
    const auto eval_start = Clock::now();
    EvalReport r;
    r.step = step;
    {
      torch::NoGradGuard no_grad;
      model->eval();
      LayerStatsOnDevice stats;
      r.train_loss = split_loss(train_split, nullptr);
      r.val_loss = split_loss(val_split, config.is_moe() ? &stats : nullptr);
      // before anything is written: a diverged model must not overwrite the last good checkpoint
      for (double loss : {r.train_loss, r.val_loss})
        if (!std::isfinite(loss)) throw numeric_error_since(loss, last_finite_step, step, "evaluation");
      if (group) stats.sum_over(*group);
      for (const auto& s : stats.read()) r.layers.push_back(s.finish());
      // (every rank of an expert-parallel group, whose experts the probe's tokens visit)
      if (writes_files() || !group || experts) {
        // the probe is not a training batch: its capacity drops would be artefacts of its length
        CapacityScope no_capacity(model, false);
        r.snapshot = trace_text(model, data.vocab, data.probe_text(kProbeCharacters), device, false);
      }
      r.snapshot.step = step;
      model->train();
    }
    last_eval_step = step;
    last_finite_step = step;
    r.best = r.val_loss < best_val;
    if (r.best) best_val = r.val_loss;
    r.elapsed_s = elapsed();
    r.peak_memory_mb = device.is_cuda() ? peak_device_memory_mb(device) : peak_rss_mb();
    window_start += Clock::now() - eval_start;  // throughput counts training time only
    return r;
  }
};

// ---------------------------------------------------------------------------------------------------
Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Trainer::~Trainer() = default;

std::unique_ptr<Trainer> Trainer::create(const Config& config, const TextDataset& data, const std::string& run_dir,
                                         const std::string& dataset_path, const InferenceModel* start_from,
                                         const std::string& derived_from) {
  auto errors = validate(config, data.train_size(), data.val_size());
  if (!errors.empty()) throw ConfigError(errors);
  if (start_from && !fits(*start_from, config, data.vocab))
    throw std::invalid_argument("the starting weights do not fit the config or the dataset's vocabulary");
  init_torch_threads();
  keep_freed_memory_between_steps();
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->data = data;
  impl->run_dir = run_dir;
  impl->dataset_path = dataset_path;
  impl->device = pick_device(config.device);
  try {
    impl->precision = resolve_precision(config.precision, impl->device);
  } catch (const std::runtime_error& e) {
    throw ConfigError(std::vector<FieldError>{{"precision", e.what()}});
  }
  if (impl->writes_files()) impl->refuse_a_run_in_the_folder();  // that is the answer, whatever the resources
  impl->check_resources(config, /*resuming=*/false);
  if (impl->device.is_cuda()) enable_tf32();
  if (config.deterministic) use_deterministic_kernels(impl->device);
  if (impl->writes_files()) {
    fs::create_directories(run_dir);
    impl->take_lock();
    impl->refuse_a_run_in_the_folder();  // again under the lock: another process may have started one
    const RunFolder folder = impl->folder();
    if (folder.holds_run()) folder.remove_earlier_attempt();
    folder.create();
    folder.write_config(config);
    nlohmann::json run = {{"format", kRunFormat}, {"dataset", dataset_path}, {"dataset_name", data.name},
                          {"device", device_name(impl->device)},
                          {"precision", precision_name(impl->precision)},
                          {"dataset_fingerprint", data.fingerprint()},
                          {"parameters", count_parameters(config, data.vocab.size())}};
    if (!derived_from.empty()) {
      run["derived_from"] = nlohmann::json::parse(derived_from);
      impl->origin = run["derived_from"].value("summary", "");
    }
    folder.write_run_info(run);
    folder.start_metrics(config);
#ifdef MOEWB_TENSORBOARD
    impl->tensorboard = std::make_unique<TensorBoardWriter>(run_dir);
#endif
  }
  impl->rng.seed(static_cast<uint64_t>(config.seed));
  impl->cpu_rng = at::detail::createCPUGenerator(static_cast<uint64_t>(config.seed));
  if (impl->device.is_cuda()) {
    auto gen = at::globalContext().defaultGenerator(impl->device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(static_cast<uint64_t>(config.seed));
  }
  {
    ScopedRandomSource source(impl->cpu_rng);
    impl->model = GPT(config, data.vocab.size());
  }
  if (start_from) copy_parameters(start_from->impl().model, impl->model);  // shapes checked above
  impl->model->to(impl->device);
  impl->optimizer = std::make_unique<TrainingOptimizer>(impl->model, config, impl->precision, impl->device);
  impl->prepare_data();
  impl->log = make_run_log(impl->writes_files() ? run_dir : "");
  return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
}

// Resuming, step by step (Trainer::resume): the folder's own files, the dataset, the checkpoint that must match
// them, the state it holds, and the folder's files made to continue from it.
namespace {

// run.json's dataset and the folder's config, validated (an edited file must not size the memory check: n_head 0).
Config read_run_to_resume(const RunFolder& folder, nlohmann::json& run, std::string& dataset_path) {
  try {
    run = folder.read_run_info();
    dataset_path = run.at("dataset").get<std::string>();
  } catch (const std::exception& e) {
    throw CheckpointError("'" + folder.dir() + "' is not a run folder (run.json: " + e.what() + ")");
  }
  std::vector<FieldError> errors;
  const Config on_disk = config_from_json(read_file(folder.config_file()), Config{}, errors);
  if (errors.empty()) errors = validate(on_disk);
  if (!errors.empty()) throw CheckpointError("config.json of '" + folder.dir() + "' is invalid: " + describe(errors));
  return on_disk;
}

}  // namespace

// The checkpoint must be of this folder's config and dataset; `max_iters` may extend the schedule, never cut it
// short of where the run is.
void Trainer::Impl::check_checkpoint_matches(const LoadedCheckpoint& ck, const Config& on_disk, int max_iters,
                                             const nlohmann::json& run) {
  Config expected = ck.meta.config;
  expected.max_iters = on_disk.max_iters;
  if (to_json(expected) != to_json(on_disk))
    throw CheckpointError("config.json of '" + run_dir + "' does not match its checkpoint; restore it or start a new run");
  config = ck.meta.config;
  // a run cannot end before where it already is: the loop would wait for a step it has passed
  if (max_iters > 0 && max_iters < ck.meta.step)
    throw ConfigError({{"max_iters", "the run is already at step " + std::to_string(ck.meta.step) + ": give " +
                                         std::to_string(ck.meta.step) + " or more"}});
  if (max_iters > 0) config.max_iters = max_iters;
  if (!(data.vocab == ck.meta.vocab))
    throw CheckpointError("the dataset '" + dataset_path + "' has changed: its characters differ from the run's");
  // same characters, different text (an edited or replaced file): the batches would silently differ
  if (run.contains("dataset_fingerprint") && run["dataset_fingerprint"] != data.fingerprint())
    throw CheckpointError("the dataset '" + dataset_path +
                          "' has changed since the run started (same characters, different text): restore it or "
                          "start a new run");
}

// The model, the optimizer's moments, the counters and every random generator, as the checkpoint left them.
void Trainer::Impl::restore(LoadedCheckpoint& ck) {
  try {
    precision = resolve_precision(config.precision, device);
  } catch (const std::runtime_error& e) {
    throw CheckpointError(std::string("the run cannot continue on this machine: ") + e.what());
  }
  model = ck.model;
  optimizer = std::make_unique<TrainingOptimizer>(model, config, precision, device);
  if (ck.has_optimizer) {
    try {
      optimizer->load(ck.optimizer_state);
    } catch (const c10::Error& e) {
      throw CheckpointError(std::string("the optimizer state in the checkpoint is corrupt: ") + e.what_without_backtrace());
    } catch (const std::runtime_error& e) {
      throw CheckpointError(std::string("the optimizer state in the checkpoint is corrupt: ") + e.what());
    }
  }
  const CheckpointMeta& m = ck.meta;
  step = m.step;
  last_eval_step = m.last_eval_step;
  last_finite_step = m.step;
  best_val = m.best_val;
  elapsed_before = m.elapsed_s;
  std::istringstream(m.batch_rng) >> rng;
  cpu_rng = at::detail::createCPUGenerator(static_cast<uint64_t>(config.seed));
  if (m.torch_rng.defined()) cpu_rng.set_state(m.torch_rng);
  if (m.cuda_rng.defined() && device.is_cuda()) {
    auto gen = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(m.cuda_rng);
  }
  prepare_data();
  loss_acc.fill_(m.loss_sum);
  loss_count = m.loss_count;
}

std::unique_ptr<Trainer> Trainer::resume(const std::string& run_dir, int max_iters, bool read_only) {
  init_torch_threads();
  keep_freed_memory_between_steps();
  auto impl = std::make_unique<Impl>();
  impl->run_dir = run_dir;
  impl->read_only = read_only;
  if (!fs::is_directory(run_dir)) throw CheckpointError("'" + run_dir + "' is not a run folder (no such folder)");
  if (!read_only) impl->take_lock();
  const RunFolder folder = impl->folder();
  if (!impl->holds_checkpoint() && folder.holds_run())
    throw CheckpointError("'" + run_dir + "' stopped before its first checkpoint: nothing to resume; start it again "
                          "with train --run (the folder is reused)");
  nlohmann::json run;
  const Config on_disk = read_run_to_resume(folder, run, impl->dataset_path);
  impl->device = pick_device(on_disk.device);
  if (impl->device.is_cuda()) enable_tf32();
  if (on_disk.deterministic) use_deterministic_kernels(impl->device);
  try {
    impl->data = TextDataset::from_file(impl->dataset_path);
  } catch (const DatasetError& e) {
    throw CheckpointError(std::string("the run's dataset cannot be read: ") + e.what());
  }
  // before the checkpoint is loaded: loading holds the weights twice, as much as training does
  impl->check_resources(on_disk, /*resuming=*/true);
  LoadedCheckpoint ck = impl->load_latest();
  if (!ck.notice.empty()) impl->notice += (impl->notice.empty() ? "" : "; ") + ck.notice;  // said at the first step
  impl->check_checkpoint_matches(ck, on_disk, max_iters, run);
  impl->restore(ck);
  if (impl->writes_files()) {
    folder.truncate_metrics(ck.meta.step);
    // a new event file whose session start makes TensorBoard drop the rows after the checkpoint, as above
#ifdef MOEWB_TENSORBOARD
    impl->tensorboard = std::make_unique<TensorBoardWriter>(run_dir, ck.meta.step + 1);
#endif
    if (max_iters > 0) folder.write_config(impl->config);
  }
  impl->resumed = true;
  impl->log = make_run_log(impl->writes_files() ? run_dir : "");
  return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
}

Progress Trainer::advance() {
  return impl_->logged([this] { return advance_unlogged(); });
}

Progress Trainer::advance_unlogged() {
  Impl& d = *impl_;
  if (!d.announced) d.announce();
  ScopedRandomSource source(d.cpu_rng);
  Progress p;
  auto eval_due = [&d] {
    return d.last_eval_step != d.step && (d.step % d.config.eval_interval == 0 || d.step == d.config.max_iters);
  };
  if (!eval_due() && d.step < d.config.max_iters) p.step = d.train_iteration();
  if (eval_due()) p.eval = d.evaluate();
  if ((p.step && p.step->logged) || p.eval) {
    MetricsRow row;
    row.step = d.step;
    if (p.step && p.step->logged) {
      row.elapsed_s = p.step->elapsed_s;
      row.lr = p.step->lr;
      row.train_loss = p.step->loss;
      row.tokens_per_sec = p.step->tokens_per_sec;
    }
    if (p.eval) {
      row.elapsed_s = p.eval->elapsed_s;
      row.eval_train_loss = p.eval->train_loss;
      row.val_loss = p.eval->val_loss;
      row.peak_memory_mb = p.eval->peak_memory_mb;
      row.layers = p.eval->layers;
    }
    d.append_metrics(row);
  }
  if (p.eval) d.persist(*p.eval);
  d.log_progress(p);
  if (done()) d.log->info("done: {}", d.run_dir.empty() ? "(no folder)" : d.run_dir);
  return p;
}

bool Trainer::done() const { return impl_->step >= impl_->config.max_iters && impl_->last_eval_step == impl_->step; }
int Trainer::step() const { return impl_->step; }
const Config& Trainer::config() const { return impl_->config; }
const TextDataset& Trainer::dataset() const { return impl_->data; }
const std::string& Trainer::run_dir() const { return impl_->run_dir; }
const std::string& Trainer::notice() const { return impl_->notice; }
std::string Trainer::device() const { return device_name(impl_->device); }
void Trainer::save_latest() {
  if (!impl_->announced) impl_->announce();  // a run saved before its first step (a stop, an import) says what it is
  impl_->logged([this] {
    const double loss_sum = impl_->window_loss_sum();  // a collective: every rank of a group saves together
    const auto whole = impl_->whole_experts();
    impl_->save(impl_->folder().latest_checkpoint(), loss_sum);
  });
  if (impl_->writes_files()) impl_->log->info("saved checkpoints/latest.pt at step {}", impl_->step);
}
spdlog::logger& Trainer::log() const { return *impl_->log; }

void check_world_size(const Config& c, int world_size) {
  if (world_size > 1 && c.batch_size % world_size != 0)
    throw ConfigError({{"batch_size", "the global batch " + std::to_string(c.batch_size) +
                                          " does not split over " + std::to_string(world_size) +
                                          " ranks: give a multiple of " + std::to_string(world_size) +
                                          " (each rank takes batch_size / ranks sequences)"}});
}

void check_expert_split(const Config& c, int world_size) {
  if (world_size <= 1) return;
  if (!c.is_moe())
    throw ConfigError(std::vector<FieldError>{
        {"ffn", "expert parallelism splits the experts of a MoE over the ranks: this model is dense"}});
  if (c.n_experts % world_size != 0)
    throw ConfigError({{"n_experts", std::to_string(c.n_experts) + " experts do not split over " +
                                         std::to_string(world_size) + " ranks: give a multiple of " +
                                         std::to_string(world_size) + " (each rank holds n_experts / ranks)"}});
}

void Trainer::join(std::shared_ptr<Collective> group, bool expert_parallel) {
  Impl& d = *impl_;
  check_world_size(d.config, group->world_size());
  if (expert_parallel) check_expert_split(d.config, group->world_size());
  d.group = std::move(group);
  // every rank must train the same model on the same text: a rank started with other options or another copy of
  // the corpus would silently average unrelated gradients
  // (as each resolved them: device, precision, and for a resumed run the step and the batch stream it read)
  const std::string identity = to_json(d.config) + d.data.fingerprint() + d.data.vocab.to_utf8() +
                               device_name(d.device) + precision_name(d.precision) + std::to_string(d.step) +
                               rng_state(d.rng) + (expert_parallel ? "expert-parallel" : "");
  uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (unsigned char ch : identity) hash = (hash ^ ch) * 1099511628211ull;
  auto rank0 = torch::tensor({static_cast<int64_t>(hash)}, torch::kInt64);
  d.group->broadcast(rank0);
  const bool differs = rank0.item<int64_t>() != static_cast<int64_t>(hash);
  if (d.group->any(differs))
    throw std::runtime_error(
        "rank " + std::to_string(d.rank()) +
        (differs ? ": its config or dataset differs from rank 0's: give every rank the same options and the same "
                   "text"
                 : ": another rank's config or dataset differs from rank 0's (its error says which)"));
  {
    torch::NoGradGuard no_grad;
    // every rank starts from rank 0's weights, whatever each initialised or read
    for (auto& p : d.model->parameters()) d.group->broadcast(p.data());
  }
  if (expert_parallel) {
    d.experts = std::make_unique<ExpertParallel>(d.model, *d.optimizer, d.group);
    d.optimizer->set_sharded(d.experts->sharded(), d.group);
  }
  d.sync = std::make_unique<GradientSync>(d.experts ? d.experts->replicated() : d.model->parameters(), d.group);
  // dropout and jitter differ per rank, as they would across one process's batch; rank 0 keeps the run's stream
  // (saved in checkpoints), the others derive theirs from the seed, their rank and the step
  if (d.rank() > 0) {
    const uint64_t seed = static_cast<uint64_t>(d.config.seed) + 1000003ull * d.rank() + static_cast<uint64_t>(d.step);
    d.cpu_rng = at::detail::createCPUGenerator(seed);
    if (d.device.is_cuda()) {  // dropout and jitter on a GPU draw from the device's generator
      auto gen = at::globalContext().defaultGenerator(d.device);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
  }
  if (d.rank() > 0) d.log->set_level(spdlog::level::warn);  // one voice for the group: rank 0's
  if (d.writes_files()) {
    d.lock->describe("rank 0 of " + std::to_string(d.world()));  // what the app following the run shows
    // one entry per session on several ranks: a run may be resumed on another world size
    nlohmann::json run = d.folder().read_run_info();
    if (!run["data_parallel"].is_array()) run["data_parallel"] = nlohmann::json::array();
    run["data_parallel"].push_back({{"world_size", d.world()},
                                    {"backend", d.group->backend()},
                                    {"global_batch", d.config.batch_size},
                                    {"per_rank_batch", d.config.batch_size / d.world()},
                                    {"experts_per_rank", d.experts ? d.experts->experts_per_rank()
                                                                   : (d.config.is_moe() ? d.config.n_experts : 0)},
                                    {"from_step", d.step}});
    d.folder().write_run_info(run);
  }
}

bool Trainer::stop_requested(bool here) {
  if (!impl_->group) return here;
  return impl_->logged([&] { return impl_->group->any(here); });
}
int Trainer::rank() const { return impl_->rank(); }
int Trainer::world_size() const { return impl_->world(); }
bool Trainer::expert_parallel() const { return impl_->experts != nullptr; }

InferenceModel Trainer::snapshot() const {
  if (impl_->experts) throw std::logic_error("an expert-parallel rank holds only its experts: load a checkpoint");
  auto impl = std::make_shared<InferenceModel::Impl>();
  impl->config = impl_->config;
  impl->vocab = impl_->data.vocab;
  impl->device = impl_->device;
  impl->precision = impl_->precision;
  impl->model = GPT(impl_->config, impl_->data.vocab.size());
  impl->model->to(impl_->device);
  copy_parameters(impl_->model, impl->model);
  impl->model->eval();
  return InferenceModel(impl);
}

}  // namespace moewb
