// moewb-cli: the training core without a window. Options and per-command help come from CLI11;
// log lines go through spdlog (run_log.h), a run's also into its train.log. Every command prints a one-line error
// and exits non-zero on bad input; `train` and `resume` stop cleanly on Ctrl-C with a checkpoint.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "app/cli/cli_options.h"
#include "app/cli/export_cli.h"
#include "app/cli/local_launcher.h"
#include "app/cli/scaling_bench.h"
#include "app/cli/surgery_cli.h"
#include "app/version.h"
#include "core/base/files.h"
#include "core/base/numbers.h"
#include "core/base/process_memory.h"
#include "core/distributed/collective.h"
#include "core/model/machine.h"
#include "core/runs/run_folder.h"
#include "core/runs/run_log.h"
#include "core/train/bench.h"
#include "core/train/suite.h"
#include "core/train/training.h"

using namespace moewb;

namespace {

constexpr int kInterventionTextChars = 20000;  // default text of `intervene`: the start of the validation split
constexpr int kDefaultGroupTimeout = 300;
constexpr int kUsageExitCode = 2;

// A CSV cell: quoted, with doubled quotes, when it holds a comma, a quote or a line break.
std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string with_decimals(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};  // the signal that asked to stop

// The terminal: every line that is not a result (progress, notes, errors); set once the options are parsed.
spdlog::sink_ptr g_terminal;
std::shared_ptr<spdlog::logger> g_log;

// In a data-parallel group every rank may fail the same way: the others' lines say which rank they come from.
std::string rank_prefix() {
  const char* rank = std::getenv("RANK");
  const char* world = std::getenv("WORLD_SIZE");
  if (!rank || !world || std::string(rank) == "0" || std::string(world) == "1") return "";
  return "rank " + std::string(rank) + ": ";
}

void open_terminal(bool verbose) {
  g_terminal = make_terminal_sink(rank_prefix(), verbose);
  g_log = std::make_shared<spdlog::logger>("moewb-cli", g_terminal);
}

const char* kConfigKeys =
    R"(Config keys are those of config.json (`moewb-cli keys`, core/README.md); e.g. --ffn=dense (the presets are a
top-2 MoE of 4 experts with the load-balancing loss at 0.01), --n_experts=8 --routing=sigmoid; the preset gives
the rest.)";
const char* kErrors =
    R"(Errors are one line; --verbose adds LibTorch's backtrace (a run's train.log always keeps it).)";
const char* kTraining =
    R"(train and resume stop after the current step with a checkpoint on Ctrl-C, SIGTERM or SIGHUP (a second one
ends at once), and write every line they print also to the run's train.log.
Data-parallel training: --nproc N on one machine, or torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT), e.g. torchrun --no-python --nproc_per_node=2 moewb-cli train ...; batch_size is the
global batch (each rank trains on batch_size / ranks); rank 0 writes the run folder; a failed or silent rank
ends every rank after --timeout seconds (300). With --expert-parallel each rank also holds only
n_experts / ranks experts of every MoE layer and tokens travel to them (checkpoints still hold every expert).)";

const char* kRunsDirectory =
    R"(Without --run (train, import-pt) or --dir (suite) runs go into $MOEWB_RUNS_DIR, else $XDG_DATA_HOME/moewb/runs,
else ~/.local/share/moewb/runs: where the app keeps its runs too.)";

std::string default_dataset() { return MOEWB_DEFAULT_DATASET; }

std::string default_run_dir(const Config& c) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  std::string kind = "dense";
  if (c.is_moe()) kind = name_of(c.routing) + (c.routing == RoutingMode::topk ? std::to_string(c.top_k) : "");
  if (c.is_moe() && c.use_capacity) kind += "-cf" + std::to_string(c.capacity_factor).substr(0, 3);
  return default_runs_directory() + "/" + stamp + "-" + kind;
}

// SIGINT, SIGTERM and SIGHUP stop after the current step with a checkpoint; a second one ends the process at
// once (a long evaluation), leaving the last checkpoint, which atomic writes never tear.
void on_stop_signal(int signal) {
  if (g_interrupted) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
  g_signal = signal;
  g_interrupted = true;
}

void catch_stop_signals() {
  for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, on_stop_signal);
}

// The trainer logs its progress; this loop adds the stop. Rank 0 alone speaks for a group (Trainer::join).
int train_loop(Trainer& t) {
  if (t.done()) {
    if (!t.notice().empty()) t.log().warn("{}", t.notice());  // said by the first step otherwise
    t.log().info("{} is complete at step {}; resume --max_iters N trains it further", t.run_dir(), t.step());
    return 0;
  }
  while (!t.done()) {
    if (t.stop_requested(g_interrupted)) {
      t.save_latest();
      t.log().info("stopped at step {}; continue with: moewb-cli resume --run {}", t.step(), t.run_dir());
      return 128 + (g_signal ? g_signal.load() : SIGTERM);
    }
    t.advance();
  }
  return 0;
}

// Trains in the foreground: the run's log also reaches the terminal. An error has been logged (train.log and the
// terminal) by the trainer when it gets here.
int run_training(Trainer& t) {
  catch_stop_signals();
  t.log().sinks().push_back(g_terminal);
  try {
    return train_loop(t);
  } catch (const GroupError&) {
    // checkpoints are written whole or not at all: the last one stands
    if (t.rank() == 0 && !t.run_dir().empty())
      t.log().warn("the last checkpoint in {} is intact; continue with: moewb-cli resume --run {} [--nproc N]{}",
                   t.run_dir(), t.run_dir(), t.expert_parallel() ? " [--expert-parallel]" : "");
    // at once: destructors would wait for the failed collectives, up to the timeout each
    t.log().flush();
    _exit(kGroupLostExitCode);
  } catch (const std::exception&) {
    return 1;
  }
}

// Said once by the launcher rather than by every rank it would start.
void require_distributed() {
  if (!distributed_available())
    throw std::runtime_error(
        "--nproc: this build has no distributed training (LibTorch's Gloo headers were not "
        "found when it was configured; Debian: apt install libgloo-dev, then reconfigure)");
}

// The group this process belongs to (torchrun's variables, or --nproc's), joined; null without one.
std::shared_ptr<Collective> join_group(int timeout_s) {
  auto where = rendezvous_from_environment();
  if (!where || where->world_size == 1) return nullptr;
  where->timeout = std::chrono::seconds(timeout_s);
  // one GPU per rank, each its own cuda:0; set before anything initialises CUDA in this process
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  if (const auto mine = rank_visible_devices(visible ? visible : "", where->local_rank, where->local_world_size))
    setenv("CUDA_VISIBLE_DEVICES", mine->c_str(), 1);
  // the ranks on this machine share its cores
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  set_training_threads(std::max(1, cores / where->local_world_size));
  set_ranks_on_this_machine(where->local_world_size, where->world_size);
  return Collective::join(*where);
}

// Every rank makes its trainer; when one cannot, all stop (the others would wait for it until the timeout).
std::unique_ptr<Trainer> start_in_group(const std::shared_ptr<Collective>& group, bool expert_parallel,
                                        const std::function<std::unique_ptr<Trainer>()>& make) {
  if (!group) {
    if (expert_parallel) std::cerr << "warning: --expert-parallel: a single process holds every expert\n";
    return make();
  }
  std::unique_ptr<Trainer> trainer;
  std::exception_ptr failure;
  try {
    trainer = make();
  } catch (...) {
    failure = std::current_exception();
  }
  if (group->any(failure != nullptr)) {
    if (failure) std::rethrow_exception(failure);
    throw std::runtime_error("rank " + std::to_string(group->rank()) +
                             ": another rank could not start the run (its error says why); stopping");
  }
  trainer->join(group, expert_parallel);
  return trainer;
}

// --nproc and --timeout of train, resume and bench.
struct GroupOptions {
  int nproc = 1;
  int timeout = kDefaultGroupTimeout;
  bool expert_parallel = false;
  void add_to(CLI::App* app) {
    add_int(app, "nproc", nproc, "data-parallel on N local processes (Gloo over 127.0.0.1)", 1);
    add_int(app, "timeout", timeout, "seconds a rank waits for the others before the job fails", 1);
    app->add_flag("--expert-parallel", expert_parallel,
                  "each rank holds n_experts / ranks experts of every layer; tokens travel to them (all_to_all)");
  }
  // Said once by the launcher, before any rank starts.
  void check(const Config& c) const {
    check_world_size(c, nproc);
    if (expert_parallel) check_expert_split(c, nproc);
  }
};

Command add_train(CLI::App& root, int argc, char** argv) {
  struct Options {
    std::string preset = machine_preset(), config, data = default_dataset(), run;
    GroupOptions group;
    ConfigOverrides overrides;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "train", "train a new run (folder: --run, else " + default_runs_directory() + "/<time>-<kind>)");
  app->add_option("--preset", o->preset, "the starting config: a top-2-of-4 MoE (--ffn=dense for the dense FFN)")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  app->add_option("--config", o->config, "a config.json whose keys replace the preset's")->type_name("FILE");
  app->add_option("--data", o->data, "the text to train on")->type_name("FILE")->capture_default_str();
  app->add_option("--run", o->run, "the run folder to create")->type_name("DIR");
  o->group.add_to(app);
  add_config_keys(app, o->overrides);
  return {app, [o, argc, argv] {
            Config c = build_config(o->preset, o->config, o->overrides);
            if (o->group.nproc > 1) {
              require_distributed();
              o->group.check(c);
              return launch_local_ranks(o->group.nproc, std::chrono::seconds(o->group.timeout),
                                        without_option(argc, argv, "nproc"));
            }
            catch_stop_signals();  // a stop while starting is kept
            auto group = join_group(o->group.timeout);
            if (group) check_world_size(c, group->world_size());
            if (group && o->group.expert_parallel) check_expert_split(c, group->world_size());
            TextDataset data = TextDataset::from_file(o->data);
            const bool writer = !group || group->rank() == 0;
            std::string run_dir = o->run;
            if (run_dir.empty() && writer) run_dir = default_run_dir(c);
            auto trainer = start_in_group(group, o->group.expert_parallel, [&] {
              return Trainer::create(c, data, writer ? run_dir : "", std::filesystem::absolute(o->data).string());
            });
            return run_training(*trainer);
          }};
}

Command add_resume(CLI::App& root, int argc, char** argv) {
  struct Options {
    std::string run;
    int max_iters = 0;
    GroupOptions group;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("resume", "continue a run from checkpoints/latest.pt");
  app->add_option("--run", o->run, "the run folder")->type_name("DIR")->required();
  add_int(app, "max_iters", o->max_iters, "extend the schedule to this step (0: the run's own)", 0);
  o->group.add_to(app);
  return {app, [o, argc, argv] {
            if (o->group.nproc > 1) {
              require_distributed();
              std::vector<FieldError> errors;  // a batch that does not split is said once, before any rank starts
              if (const RunFolder folder(o->run); folder.holds_run()) {
                const Config on_disk = config_from_json(read_file(folder.config_file()), Config{}, errors);
                if (errors.empty()) o->group.check(on_disk);
              }
              return launch_local_ranks(o->group.nproc, std::chrono::seconds(o->group.timeout),
                                        without_option(argc, argv, "nproc"));
            }
            catch_stop_signals();  // a stop while starting is kept
            auto group = join_group(o->group.timeout);
            auto trainer = start_in_group(group, o->group.expert_parallel, [&] {
              return Trainer::resume(o->run, o->max_iters, /*read_only=*/group && group->rank() > 0);
            });
            return run_training(*trainer);
          }};
}

// --checkpoint and --device of the commands that load a model.
struct ModelOptions {
  std::string checkpoint, device = "auto";
  void add_to(CLI::App* app) {
    app->add_option("--checkpoint", checkpoint, "a checkpoint (.pt) of a run")->type_name("FILE")->required();
    app->add_option("--device", device, "where the model runs")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
        ->capture_default_str();
  }
  // A checkpoint without a checksum loads with a warning that it is unverified.
  InferenceModel load() const {
    InferenceModel m = InferenceModel::load(checkpoint, device);
    if (!m.notice().empty()) g_log->warn("{}", m.notice());
    return m;
  }
};

// The dataset of the run a checkpoint belongs to (<run>/checkpoints/x.pt -> <run>/run.json), else the default.
std::string dataset_of(const std::string& checkpoint) {
  const RunFolder run = RunFolder::of_checkpoint(checkpoint);
  try {
    if (file_exists(run.run_info_file())) return run.read_run_info().at("dataset").get<std::string>();
  } catch (const std::exception&) {
  }
  return default_dataset();
}

Command add_eval(CLI::App& root) {
  struct Options {
    ModelOptions model;
    std::string data;
    int batches = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("eval", "train and validation loss of a checkpoint");
  o->model.add_to(app);
  app->add_option("--data", o->data, "the text (default: the run's dataset)")->type_name("FILE");
  add_int(app, "batches", o->batches, "batches per split (default: the run's eval_iters)", 1);
  return {app, [o] {
            InferenceModel m = o->model.load();
            TextDataset data = TextDataset::from_file(o->data.empty() ? dataset_of(o->model.checkpoint) : o->data);
            const int batches = o->batches > 0 ? o->batches : m.config().eval_iters;
            std::printf("train loss %.4f\nval loss %.4f\n", m.loss(data, false, batches, m.config().seed + 1),
                        m.loss(data, true, batches, m.config().seed + 1));
            return 0;
          }};
}

Command add_generate(CLI::App& root) {
  struct Options {
    ModelOptions model;
    std::string prompt;
    GenerationOptions g;
    int64_t seed = 0;
    bool no_cache = false;
  };
  auto o = std::make_shared<Options>();
  o->seed = static_cast<int64_t>(o->g.seed);
  CLI::App* app = root.add_subcommand("generate", "sample text from a checkpoint");
  o->model.add_to(app);
  app->add_option("--prompt", o->prompt, "the text to continue (characters of the run's vocabulary)");
  add_int(app, "length", o->g.length, "characters to generate", 0);
  app->add_option_function<std::string>(
         "--temperature",
         [o](const std::string& value) {
           const auto t = parse_double(value);
           const std::string problem = t ? temperature_problem(*t) : "must be a number";
           if (!problem.empty()) throw CLI::ValidationError("--temperature " + problem + ", got '" + value + "'");
           o->g.temperature = *t;
         },
         "sampling temperature: 0 is greedy (the most likely character), else at least " +
             format_double(kMinTemperature, 6))
      ->type_name("NUMBER")
      ->default_str(format_double(o->g.temperature, 6));
  add_int(app, "top_k", o->g.top_k, "sample among the k most likely characters (0: all)", 0);
  add_int64(app, "seed", o->seed, "sampling seed", 0);
  app->add_flag("--no-cache", o->no_cache, "recompute every position instead of using the key/value cache");
  return {app, [o] {
            InferenceModel m = o->model.load();
            GenerationOptions g = o->g;
            g.seed = static_cast<uint64_t>(o->seed);
            g.use_cache = !o->no_cache;
            // the prompt is printed once generation has accepted it (an unknown character is an error, not output)
            bool shown = false;
            m.generate(o->prompt, g, [&](const std::string& piece) {
              if (!shown) std::cout << o->prompt, shown = true;
              std::cout << piece << std::flush;
              return true;
            });
            if (!shown) std::cout << o->prompt;
            std::cout << "\n";
            return 0;
          }};
}

// --text TEXT or --text-file FILE; the file's content when given.
struct TextOptions {
  std::string text, file;
  void add_to(CLI::App* app, const std::string& what) {
    auto* t = app->add_option("--text", text, what);
    app->add_option("--text-file", file, "the same, from a file")->type_name("FILE")->excludes(t);
  }
  std::string read() const { return file.empty() ? text : read_file(file); }
};

Command add_trace(CLI::App& root) {
  struct Options {
    ModelOptions model;
    TextOptions text;
    std::string out;
    bool capacity = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("trace", "every layer's routing of a text, as JSON");
  o->model.add_to(app);
  o->text.add_to(app, "the text to route");
  app->add_option("--out", o->out, "write the JSON here instead of stdout");
  app->add_flag("--capacity", o->capacity,
                "drop as training would, in batches of batch_size x block_size (default: no capacity limit)");
  return {app, [o] {
            InferenceModel m = o->model.load();
            const std::string text = o->text.read();
            if (text.empty()) throw CLI::ValidationError("trace needs --text TEXT or --text-file FILE (non-empty)");
            const std::string json = m.trace(text, {}, o->capacity).to_json();
            if (o->out.empty())
              std::cout << json << "\n";
            else
              atomic_write(o->out, json);
            return 0;
          }};
}

// Knocks out or forces one expert of a layer (never touching the checkpoint) and reports what changes: the
// validation loss on the same batches, per character class on a text, and per character into a CSV.
Command add_intervene(CLI::App& root) {
  struct Options {
    ModelOptions model;
    Intervention iv;
    TextOptions text;
    std::string out, data;
    int batches = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("intervene", "knock out or force one expert and measure the loss change");
  o->model.add_to(app);
  add_int(app, "layer", o->iv.layer, "the MoE layer", 0)->required();
  auto* disable = add_int(app, "disable", o->iv.disable, "the expert to knock out", 0);
  auto* force = add_int(app, "force", o->iv.force, "the expert every token is sent to", 0);
  disable->excludes(force);
  o->text.add_to(app, "the text for the per-character losses (default: the first 20,000 validation characters)");
  app->add_option("--out", o->out, "a CSV of every character's loss before and after");
  add_int(app, "batches", o->batches, "validation batches (default: the run's eval_iters)", 1);
  app->add_option("--data", o->data, "the text (default: the run's dataset)")->type_name("FILE");
  return {app, [o] {
            if (o->iv.disable < 0 && o->iv.force < 0)
              throw CLI::ValidationError("intervene needs --disable E or --force E");
            InferenceModel m = o->model.load();
            TextDataset data = TextDataset::from_file(o->data.empty() ? dataset_of(o->model.checkpoint) : o->data);
            std::string text = o->text.read();
            if (text.empty()) text = data.probe_text(kInterventionTextChars);  // the start of the validation split
            const int batches = o->batches > 0 ? o->batches : m.config().eval_iters;
            const Intervention& iv = o->iv;
            const InferenceModel changed = m.intervened(iv);
            const uint64_t seed = m.config().seed + 1;
            const double val = m.loss(data, true, batches, seed), val_changed = changed.loss(data, true, batches, seed);
            std::printf("intervention: %s\nvalidation loss %.4f -> %.4f (%+.4f) over %d batches\n",
                        iv.describe().c_str(), val, val_changed, val_changed - val, batches);
            const std::u32string chars = decode_utf8(text);
            const std::vector<double> base = m.char_losses(text), after = changed.char_losses(text);
            const LossComparison cmp = compare_losses(chars, base, after);
            std::printf("\n%-20s %10s %7s %8s %8s %8s\n", "characters", "count", "share", "before", "after", "delta");
            for (int c = 0; c < kCharClasses; ++c) {
              const auto& row = cmp.classes[static_cast<size_t>(c)];
              if (row.characters == 0) continue;
              std::printf("%-20s %10lld %6.1f%% %8.4f %8.4f %+8.4f\n", char_class_name(static_cast<CharClass>(c)),
                          static_cast<long long>(row.characters), 100 * row.share, row.base, row.changed, row.delta());
            }
            std::printf("%-20s %10lld %6.1f%% %8.4f %8.4f %+8.4f\n", "all", static_cast<long long>(cmp.all.characters),
                        100.0, cmp.all.base, cmp.all.changed, cmp.all.delta());
            if (!o->out.empty()) {
              std::string csv = "# per-character cross-entropy (nats) of predicting the character, before and after: " +
                                iv.describe() + "\nposition,character,loss,loss_after,delta\n";
              for (size_t i = 1; i < chars.size(); ++i)
                csv += std::to_string(i) + "," + csv_cell(encode_utf8(chars[i])) + "," + with_decimals(base[i], 6) +
                       "," + with_decimals(after[i], 6) + "," + with_decimals(after[i] - base[i], 6) + "\n";
              atomic_write(o->out, csv);
            }
            return 0;
          }};
}

// "a,b,c" -> {"a", "b", "c"}; empty text -> {}.
std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  for (char ch : text + ",") {
    if (ch != ',') {
      item += ch;
      continue;
    }
    if (!item.empty()) out.push_back(item);
    item.clear();
  }
  return out;
}

Command add_bench(CLI::App& root, int argc, char** argv) {
  struct Options {
    std::string preset = "cpu-quick", data = default_dataset(), variants, sweep_experts, scaling_result;
    BenchOptions bench;
    GroupOptions group;
    ConfigOverrides overrides;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "bench", "training and generation speed and memory per routing variant (--nproc: data-parallel scaling)");
  app->add_option("--preset", o->preset, "the config measured")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  app->add_option("--data", o->data, "the text")->type_name("FILE")->capture_default_str();
  add_int(app, "steps", o->bench.train_steps, "timed training steps", 1);
  add_int(app, "gen", o->bench.generate_tokens, "generated characters", 1);
  add_int(app, "repeats", o->bench.repeats, "measurements per variant, round-robin (medians reported)", 1);
  app->add_option("--variants", o->variants, "comma-separated, e.g. dense,top-2 (default: every routing mode)");
  app->add_option("--sweep_experts", o->sweep_experts, "comma-separated expert counts, e.g. 4,16,64");
  add_number(app, "peak_tflops", o->bench.peak_tflops, "the device's peak TFLOP/s, for MFU");
  o->group.add_to(app);
  // the ranks that bench --nproc starts hand their throughput back in this file
  app->add_option("--scaling-result", o->scaling_result)->group("");
  add_config_keys(app, o->overrides);
  return {app, [o, argc, argv] {
            TextDataset data = TextDataset::from_file(o->data);
            Config c = build_config(o->preset, "", o->overrides);
            BenchOptions b = o->bench;
            if (o->group.expert_parallel && o->group.nproc <= 1 && o->scaling_result.empty())
              std::cerr << "warning: --expert-parallel: a single process holds every expert (give --nproc N)\n";
            if (o->group.nproc > 1 || !o->scaling_result.empty()) {
              ScalingOptions scaling;
              scaling.nproc = o->group.nproc;
              scaling.timeout = std::chrono::seconds(o->group.timeout);
              scaling.steps = b.train_steps;
              scaling.warmup = b.warmup_steps;
              scaling.expert_parallel = o->group.expert_parallel;
              if (!o->scaling_result.empty()) return run_scaling_rank(c, data, scaling, o->scaling_result);
              require_distributed();
              scaling.rank_args = without_option(argc, argv, "nproc");
              return run_scaling_bench(c, data, scaling);
            }
            b.variants = comma_list(o->variants);
            for (const auto& n : comma_list(o->sweep_experts)) {
              const auto value = parse_int64(n);
              if (!value || *value < 1 || *value > 4096)
                throw CLI::ValidationError("--sweep_experts: '" + n + "' is not an expert count from 1 to 4096");
              b.expert_counts.push_back(static_cast<int>(*value));
            }
            g_log->info(
                "bench: n_layer {}, d {}, context {}, batch {}, N {}, precision {}, {} timed steps, {} "
                "generated characters, {} rounds; {} threads, {}",
                c.n_layer, c.n_embd, c.block_size, c.batch_size, c.n_experts, c.precision, b.train_steps,
                b.generate_tokens, b.repeats, training_threads(), allocator_name());
            // progress on stderr: stdout is the table
            const auto rows = run_bench(c, data, b, [](const std::string& variant, int round) {
              std::cerr << "  measured " << variant << " (round " << round << ")\n";
            });
            std::cout << format_bench_table(rows, b.peak_tflops);
            const std::string breakdown = format_moe_breakdown(rows);
            if (breakdown.find('\n') + 1 < breakdown.size()) std::cout << "\n" << breakdown;
            return 0;
          }};
}

Command add_suite(CLI::App& root) {
  struct Options {
    std::string name, dir = default_runs_directory() + "/paper-suite", preset = "cpu-quick", data = default_dataset();
    ConfigOverrides overrides;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("suite", "the paper's five-run comparison (continues an existing --dir)");
  app->add_option("suite", o->name, "the suite: paper")->check(CLI::IsMember({"paper"}));
  app->add_option("--dir", o->dir, "the suite's folder")->type_name("DIR")->capture_default_str();
  app->add_option("--preset", o->preset, "the base config")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  app->add_option("--data", o->data, "the text")->type_name("FILE")->capture_default_str();
  add_config_keys(app, o->overrides);
  return {app, [o] {
            if (o->name.empty()) throw CLI::ValidationError("say which suite: moewb-cli suite paper [--dir DIR]");
            const std::string data_path = std::filesystem::absolute(o->data).string();
            std::optional<Suite> suite;
            if (file_exists(o->dir + "/suite.json")) {
              suite = Suite::open(o->dir);
              g_log->info("continuing the suite in {}", o->dir);
            } else {
              suite = Suite::create(o->dir, build_config(o->preset, "", o->overrides), data_path);
            }
            catch_stop_signals();
            int last_percent = -1;
            const bool complete = suite->run(g_interrupted, [&](const SuiteProgress& p) {
              const int percent = static_cast<int>(p.fraction() * 100);
              if (percent == last_percent && p.step != p.max_iters) return;
              last_percent = percent;
              g_log->info("suite {:3d}% | run {}/{} {} | step {}/{}", percent, p.variant + 1, p.variants, p.folder,
                          p.step, p.max_iters);
            });
            if (!complete) {
              g_log->info("suite stopped; continue with: moewb-cli suite paper --dir {}", o->dir);
              return 130;
            }
            const Table table = comparison_table(suite->summaries());
            std::cout << "\n"
                      << table.to_markdown() << "\nThe paper (its GPU, linear d x d experts):\n"
                      << paper_table().to_markdown();
            atomic_write(o->dir + "/comparison.md", table.to_markdown());
            atomic_write(o->dir + "/comparison.csv", table.to_csv());
            atomic_write(o->dir + "/comparison.tex", table.to_latex("Five-run comparison (moewb)"));
            return 0;
          }};
}

Command add_export(CLI::App& root, int argc, char** argv) {
  struct Options {
    std::string run, formats = "png,svg,pdf", style = "paper";
    int dpi = 200;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("export", "every figure of a run and its data into DIR/figures");
  app->add_option("--run", o->run, "the run folder")->type_name("DIR")->required();
  app->add_option("--format", o->formats, "comma-separated: png, svg, pdf")->capture_default_str();
  add_int(app, "dpi", o->dpi, "resolution of PNG figures", 24);
  app->add_option("--style", o->style, "figure style")
      ->check(CLI::IsMember({"paper", "paper-serif", "screen"}))
      ->capture_default_str();
  return {app, [o, argc, argv] {
#ifdef MOEWB_HAVE_QT
            return export_run_cli(argc, argv, o->run, o->formats, o->dpi, o->style);
#else
            (void)argc, (void)argv;
            throw std::runtime_error("figure export needs the Qt build (Qt 6 Gui and Svg; configure with "
                                     "-DMOEWB_GUI=ON or -DMOEWB_TESTS=ON)");
            return 1;
#endif
          }};
}

Command add_export_pt(CLI::App& root) {
  struct Options {
    ModelOptions model;
    std::string out;
    bool masks = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app =
      root.add_subcommand("export-pt", "a state_dict with nanoGPT's key names (.pt for torch.load, or .safetensors)");
  o->model.add_to(app);
  app->add_option("--out", o->out, "FILE.pt or FILE.safetensors")->required();
  app->add_flag("--attn-bias", o->masks, "include the attention masks nanoGPT's model.py expects on torch < 2");
  return {app, [o] {
            InferenceModel m = o->model.load();
            const bool safetensors = std::filesystem::path(o->out).extension() == ".safetensors";
            if (safetensors)
              m.export_safetensors(o->out);
            else
              m.export_state_dict(o->out, o->masks);
            std::cout << "wrote " << o->out << " (" << m.parameter_count() << " parameters, nanoGPT key names, "
                      << (safetensors ? "safetensors" : "torch.load") << ")\n";
            if (m.config().is_moe())
              std::cout << "MoE model: the shared parts use nanoGPT's keys; each feed-forward is "
                           "transformer.h.N.moe.* (router.weight, c_fc.*, c_proj.*: app/README.md, \"export-pt\") "
                           "instead of mlp.*, so nanoGPT's model.py does not load it\n";
            else if (!safetensors)
              std::cout << (o->masks ? "loads with strict=True into nanoGPT's model.py on torch < 2 (attention masks "
                                       "included)"
                                     : "loads with strict=True into nanoGPT's model.py on torch >= 2; --attn-bias for "
                                       "torch < 2")
                        << "\n";
            return 0;
          }};
}

Command add_import_pt(CLI::App& root) {
  struct Options {
    std::string pt, data = default_dataset(), run;
    int n_head = 0;
    ConfigOverrides overrides;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("import-pt", "a nanoGPT checkpoint or state_dict into a new run folder");
  app->add_option("--pt", o->pt, "the nanoGPT checkpoint (ckpt.pt) or a bare state_dict")
      ->type_name("FILE")
      ->required();
  app->add_option("--data", o->data, "the text whose characters the model predicts")
      ->type_name("FILE")
      ->capture_default_str();
  app->add_option("--run", o->run, "the run folder to create")->type_name("DIR");
  add_int(app, "n_head", o->n_head, "attention heads (a bare state_dict does not say)", 1);
  add_config_keys(app, o->overrides);
  return {app, [o] {
            TextDataset data = TextDataset::from_file(o->data);
            InferenceModel m = InferenceModel::import_nanogpt(o->pt, data.vocab, preset("cpu-quick"), o->n_head);
            Config c = m.config();
            std::vector<FieldError> errors;
            for (const auto& [key, value] : o->overrides) {
              if (key == "n_layer" || key == "n_embd" || key == "block_size" || key == "bias" || key == "ffn")
                errors.push_back({key, "comes from the imported weights"});
              else if (std::string error = apply_override(c, key, value); !error.empty())
                errors.push_back({key, error});
            }
            if (!errors.empty()) throw ConfigError(errors);
            const std::string run_dir = o->run.empty() ? default_run_dir(c) : o->run;
            // where the weights came from, in run.json (the Runs table's origin) and train.log
            const std::string pt = std::filesystem::absolute(o->pt).lexically_normal().string();
            const nlohmann::json origin = {
                {"operation", "import-pt"},
                {"source_checkpoint", pt},
                {"summary", "imported from " + std::filesystem::path(pt).filename().string() + " (nanoGPT)"}};
            auto trainer =
                Trainer::create(c, data, run_dir, std::filesystem::absolute(o->data).string(), &m, origin.dump());
            trainer->save_latest();
            g_log->info(
                "imported {} into {}: {} layers, width {}, {} heads, context {}, {} parameters; generate, "
                "trace, eval or resume it (resume trains to max_iters {})",
                o->pt, run_dir, c.n_layer, c.n_embd, c.n_head, c.block_size, m.parameter_count(), c.max_iters);
            return 0;
          }};
}

Command add_listing(CLI::App& root, const std::string& name, const std::string& description,
                    const std::function<std::string()>& text) {
  CLI::App* app = root.add_subcommand(name, description);
  return {app, [text] {
            std::cout << text();
            return 0;
          }};
}

std::string presets_text() {
  std::string out;
  for (const auto& name : preset_names()) out += name + ":\n" + to_json(preset(name)) + "\n";
  return out;
}

// A usage error's line: CLI11's own words, except for arguments it did not expect, which it lists oddly.
std::string usage_message(const CLI::ParseError& e, const CLI::App* command) {
  if (dynamic_cast<const CLI::ExtrasError*>(&e) && command && !command->remaining().empty()) {
    const std::string first = command->remaining().front();
    return first.rfind("-", 0) == 0 ? "unknown option " + first : "unexpected argument '" + first + "'";
  }
  return e.what();
}

}  // namespace

int main(int argc, char** argv) {
  // past a file-size limit (ulimit -f) a write then fails with EFBIG and the save says so, keeping the last
  // checkpoint, instead of the signal killing the process mid-save
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App root("moewb-cli: train, inspect and benchmark mixture-of-experts character models", "moewb-cli");
  root.set_help_all_flag("--help-all", "every command's options");
  root.footer(std::string(kConfigKeys) + "\n" + kErrors + "\n" + kTraining + "\n" + kRunsDirectory);
  root.require_subcommand(1);
  root.set_version_flag("--version", version_text("moewb-cli"), "print the version and the LibTorch built in");
  root.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a later --key=V wins
  bool verbose = false;
  const std::string verbose_help = "errors with LibTorch's C++ backtrace";
  root.add_flag("--verbose", verbose, verbose_help);
  std::vector<Command> commands = {
      add_train(root, argc, argv),
      add_resume(root, argc, argv),
      add_eval(root),
      add_generate(root),
      add_intervene(root),
      add_trace(root),
      add_bench(root, argc, argv),
      add_export_pt(root),
      add_prune(root, run_training),
      add_upcycle(root, run_training),
      add_import_pt(root),
      add_export(root, argc, argv),
      add_suite(root),
      add_listing(root, "presets", "print the built-in presets", presets_text),
      add_listing(root, "keys", "print every config key (type, default, allowed values, help) as a Markdown table",
                  config_keys_markdown),
  };
  if (argc == 1) {
    std::cout << root.help();
    return kUsageExitCode;
  }
  for (const Command& c : commands) {  // each command's help says what concerns it
    const std::string name = c.app->get_name();
    c.app->set_help_all_flag();
    c.app->add_flag("--verbose", verbose, verbose_help);  // after the command too
    std::string footer = c.app->get_option_no_throw("--n_layer") ? kConfigKeys : "";
    if (name == "train" || name == "resume") footer += std::string(footer.empty() ? "" : "\n") + kTraining;
    c.app->footer(footer);
  }
  auto command_named = [&commands](const std::string& name) -> CLI::App* {
    for (const Command& c : commands)
      if (c.app->get_name() == name) return c.app;
    return nullptr;
  };
  // the command word: the first argument that is not an option (only --verbose may come before it); `help` and
  // `help COMMAND` as git and cargo have them
  int at = 1;
  while (at < argc && std::string(argv[at]).rfind("-", 0) == 0) ++at;
  const bool help = at < argc && std::string(argv[at]) == "help";
  const int word = help ? at + 1 : at;
  if (word < argc && !command_named(argv[word])) {
    open_terminal(false);
    g_log->error("unknown command '{}' (moewb-cli --help lists the commands)", argv[word]);
    return kUsageExitCode;
  }
  if (help) {
    std::cout << (word < argc ? command_named(argv[word])->help(root.get_name()) : root.help());
    return 0;
  }
  try {
    root.parse(argc, argv);
    open_terminal(verbose);
    for (const Command& c : commands)
      if (c.app->parsed()) return c.run();
    return kUsageExitCode;  // require_subcommand(1) leaves no other case
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return root.exit(e);  // --help
    if (!g_log) open_terminal(false);
    const auto chosen = root.get_subcommands();
    const CLI::App* command = chosen.empty() ? nullptr : chosen.front();
    g_log->error("{} (moewb-cli{} --help lists the options)", usage_message(e, command),
                 command ? " " + command->get_name() : "");
    return kUsageExitCode;
  } catch (const GroupError& e) {
    g_log->error("{}", e.what());
    return kGroupLostExitCode;
  } catch (const ConfigError& e) {
    std::string list = e.what();  // a line per key
    if (!list.empty() && list.back() == '\n') list.pop_back();
    g_log->error("invalid configuration:\n{}", list);
    return kUsageExitCode;  // what the user gave (options or a config file) cannot train
  } catch (const std::exception& e) {
    g_log->error("{}", e.what());
  }
  return 1;
}
