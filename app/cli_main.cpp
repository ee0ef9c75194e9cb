// moewb-cli: the training core without a window (DESIGN section 5). Every command prints a clear error and
// exits non-zero on bad input; `train` and `resume` stop cleanly on Ctrl-C with a checkpoint.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <functional>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench.h"
#include "cli_args.h"
#include "collective.h"
#include "export_cli.h"
#include "files.h"
#include "local_launcher.h"
#include "numbers.h"
#include "scaling_bench.h"
#include "suite.h"
#include "surgery_cli.h"
#include "training.h"

using namespace moewb;

namespace {

constexpr int kInterventionTextChars = 20000;  // default text of `intervene`: the start of the validation split

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

const char* kUsage = R"(usage: moewb-cli <command> [options]

  train     [--preset cpu-quick|paper] [--config FILE] [--data FILE] [--run DIR] [--<config key>=VALUE ...]
            [--nproc N] [--timeout S]   data-parallel on N local processes (Gloo over 127.0.0.1)
  resume    --run DIR [--max_iters N] [--nproc N] [--timeout S]
  eval      --checkpoint FILE [--data FILE (default: the run's dataset)] [--batches N]
  generate  --checkpoint FILE [--prompt TEXT] [--length N] [--temperature T] [--top_k K] [--seed S] [--no-cache]
  intervene --checkpoint FILE --layer L (--disable E | --force E) [--text TEXT | --text-file FILE (default:
            the first 20,000 validation characters)] [--out delta.csv] [--batches N] [--data FILE]
  trace     --checkpoint FILE (--text TEXT | --text-file FILE) [--out FILE] [--capacity (drop as training
            would, in batches of batch_size x block_size; default: no capacity limit)]
  bench     [--preset P] [--data FILE] [--steps N] [--gen N] [--variants dense,top-2,...]
            [--sweep_experts 4,16,64] [--peak_tflops T (for MFU)] [--<config key>=VALUE ...]
            [--nproc N]   data-parallel scaling of the config's training instead (N ranks vs 1 process)
  export-pt --checkpoint FILE --out FILE[.safetensors] [--attn-bias (masks for nanoGPT on torch < 2)]
  prune     --run DIR (--min-share S | --remove K) [--by share|loss] [--finetune N (300)] [--out DIR]
            [--no-train] [--batches N] [--checkpoint FILE] [--<training key>=VALUE ...]
                                   a new run without the least used (or least important) experts
  upcycle   --run DIR [--method partition|copy] [--n_experts N] [--routing R] [--top_k K] [--finetune N (300)]
            [--out DIR] [--no-train] [--<routing or training key>=VALUE ...]
                                   a new MoE run from a dense run (MoEfication or sparse upcycling)
  import-pt --pt FILE [--data FILE] [--run DIR] [--n_head N (bare state_dict)] [--<training key>=VALUE ...]
  export    --run DIR [--format png,svg,pdf] [--dpi 200] [--style paper|paper-serif|screen]
                                   every figure + data into DIR/figures
  suite paper [--dir DIR] [--preset P] [--data FILE] [--<config key>=VALUE ...]   (continues an existing DIR)
  presets   print the built-in presets
  keys      print every config key (type, default, allowed values, help) as a Markdown table

Config keys are those of config.json (see README); e.g. --ffn=moe --n_experts=4 --routing=topk --top_k=2.
train and resume stop after the current step with a checkpoint on Ctrl-C, SIGTERM or SIGHUP (a second one ends
at once). Errors are one line; --verbose adds LibTorch's backtrace.
Data-parallel training: --nproc N on one machine, or torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT), e.g. torchrun --no-python --nproc_per_node=2 moewb-cli train ...; batch_size is the
global batch (each rank trains on batch_size / ranks); rank 0 writes the run folder; a failed or silent rank
ends every rank after --timeout seconds (300). Expert parallelism is not yet available.
)";

constexpr int kDefaultGroupTimeout = 300;

std::string default_dataset() { return MOEWB_DEFAULT_DATASET; }

std::string format_duration(double seconds) {
  const long s = static_cast<long>(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

Config build_config(CliArgs& args) {
  Config c = preset(args.take("preset", "cpu-quick"));
  const std::string file = args.take("config");
  if (!file.empty()) {
    std::vector<FieldError> errors;
    c = config_from_json(read_file(file), c, errors);
    if (!errors.empty()) throw ConfigError(errors);
  }
  std::vector<FieldError> errors;
  for (const auto& [key, value] : args.rest()) {
    const std::string error = apply_override(c, key, value);
    // the message starts with the key, which the error list prints already
    if (!error.empty()) errors.push_back({key, error.rfind(key + " ", 0) == 0 ? error.substr(key.size() + 1) : error});
  }
  if (!errors.empty()) throw ConfigError(errors);
  return c;
}

void reject_rest(const CliArgs& args, size_t positional = 0) {
  for (const auto& [key, value] : args.rest()) throw std::invalid_argument("unknown option --" + key);
  if (args.positional().size() > positional)
    throw std::invalid_argument("unexpected argument '" + args.positional()[positional] + "'");
}

std::string default_run_dir(const Config& c) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  std::string kind = "dense";
  if (c.is_moe()) kind = name_of(c.routing) + (c.routing == RoutingMode::topk ? std::to_string(c.top_k) : "");
  if (c.is_moe() && c.use_capacity) kind += "-cf" + std::to_string(c.capacity_factor).substr(0, 3);
  return "runs/" + std::string(stamp) + "-" + kind;
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

int train_loop(Trainer& t) {
  const bool speaks = t.rank() == 0;  // one voice for the whole group
  if (!t.notice().empty()) std::cerr << "note: " << t.notice() << "\n";
  const Config& c = t.config();
  if (speaks)
    std::cout << "run " << (t.run_dir().empty() ? "(no folder)" : t.run_dir()) << " on " << t.device()
              << (t.world_size() > 1 ? " x " + std::to_string(t.world_size()) + " ranks (global batch " +
                                           std::to_string(c.batch_size) + ")"
                                     : "")
              << ", " << t.dataset().name << " (" << t.dataset().tokens.size() << " chars, vocab "
              << t.dataset().vocab.size() << ")\n";
  const int first_step = t.step();
  const auto started = std::chrono::steady_clock::now();
  while (!t.done()) {
    if (t.stop_requested(g_interrupted)) {
      t.save_latest();
      if (speaks)
        std::cout << "\nstopped at step " << t.step() << "; continue with: moewb-cli resume --run " << t.run_dir()
                  << "\n";
      return 128 + (g_signal ? g_signal.load() : SIGTERM);
    }
    Progress p = t.advance();
    if (!speaks) continue;
    if (p.step && p.step->logged) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const double eta = (c.max_iters - p.step->step) * seconds / std::max(1, p.step->step - first_step);
      std::printf("step %d/%d | loss %.4f | lr %.2e | %.0f tok/s | ETA %s\n", p.step->step, c.max_iters,
                  p.step->loss, p.step->lr, p.step->tokens_per_sec, format_duration(eta).c_str());
      std::fflush(stdout);
    }
    if (p.eval) {
      std::cout << "step " << p.eval->step << ": train loss " << p.eval->train_loss << ", val loss "
                << p.eval->val_loss << (p.eval->best ? " (best)" : "");
      for (size_t l = 0; l < p.eval->layers.size(); ++l)
        std::cout << (l ? " " : " | load entropy ") << static_cast<int>(p.eval->layers[l].load_entropy * 100) / 100.0;
      std::cout << "\n";
    }
  }
  if (speaks) std::cout << "done: " << t.run_dir() << "\n";
  return 0;
}

int run_training(Trainer& t) {
  for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, on_stop_signal);
  try {
    return train_loop(t);
  } catch (const GroupError& e) {
    // checkpoints are written whole or not at all: the last one stands
    std::cerr << "error: " << e.what() << "\n";
    if (t.rank() == 0 && !t.run_dir().empty())
      std::cerr << "the last checkpoint in " << t.run_dir() << " is intact; continue with: moewb-cli resume --run "
                << t.run_dir() << " [--nproc N]\n";
    // at once: destructors would wait for the failed collectives, up to the timeout each
    std::cout.flush();
    std::cerr.flush();
    _exit(kGroupLostExitCode);
  }
}

// Said once by the launcher rather than by every rank it would start.
void require_distributed() {
  if (!distributed_available())
    throw std::runtime_error("--nproc: this build has no distributed training (LibTorch's Gloo headers were not "
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
  return Collective::join(*where);
}

// Every rank makes its trainer; when one cannot, all stop (the others would wait for it until the timeout).
std::unique_ptr<Trainer> start_in_group(const std::shared_ptr<Collective>& group,
                                        const std::function<std::unique_ptr<Trainer>()>& make) {
  if (!group) return make();
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
  trainer->join(group);
  return trainer;
}

int cmd_train(CliArgs& args, int argc, char** argv) {
  const int nproc = args.take_int("nproc", 1, 1);
  const int timeout = args.take_int("timeout", kDefaultGroupTimeout, 1);
  const std::string data_path = args.take("data", default_dataset());
  std::string run_dir = args.take("run");
  Config c = build_config(args);
  if (nproc > 1) {
    require_distributed();
    check_world_size(c, nproc);  // said once, before any rank starts
    return launch_local_ranks(nproc, std::chrono::seconds(timeout), without_option(argc, argv, "nproc"));
  }
  for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, on_stop_signal);  // a stop while starting is kept
  auto group = join_group(timeout);
  if (group) check_world_size(c, group->world_size());
  TextDataset data = TextDataset::from_file(data_path);
  const bool writer = !group || group->rank() == 0;
  if (run_dir.empty() && writer) run_dir = default_run_dir(c);
  auto trainer = start_in_group(group, [&] {
    return Trainer::create(c, data, writer ? run_dir : "", std::filesystem::absolute(data_path).string());
  });
  return run_training(*trainer);
}

int cmd_resume(CliArgs& args, int argc, char** argv) {
  const int nproc = args.take_int("nproc", 1, 1);
  const int timeout = args.take_int("timeout", kDefaultGroupTimeout, 1);
  const std::string run_dir = args.take("run");
  if (run_dir.empty()) throw std::invalid_argument("resume needs --run DIR");
  const int max_iters = args.take_int("max_iters", 0, 1);
  reject_rest(args);
  if (nproc > 1) {
    require_distributed();
    std::vector<FieldError> errors;  // a batch that does not split is said once, before any rank starts
    if (file_exists(run_dir + "/config.json")) {
      const Config on_disk = config_from_json(read_file(run_dir + "/config.json"), Config{}, errors);
      if (errors.empty()) check_world_size(on_disk, nproc);
    }
    return launch_local_ranks(nproc, std::chrono::seconds(timeout), without_option(argc, argv, "nproc"));
  }
  for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, on_stop_signal);  // a stop while starting is kept
  auto group = join_group(timeout);
  auto trainer = start_in_group(group, [&] {
    return Trainer::resume(run_dir, max_iters, /*read_only=*/group && group->rank() > 0);
  });
  return run_training(*trainer);
}

InferenceModel load_model(const std::string& path, const std::string& device) {
  if (path.empty()) throw std::invalid_argument("this command needs --checkpoint FILE");
  return InferenceModel::load(path, device);
}

InferenceModel load_model(CliArgs& args) {
  const std::string path = args.take("checkpoint");
  return load_model(path, args.take("device", "auto"));
}

// The dataset of the run a checkpoint belongs to (<run>/checkpoints/x.pt -> <run>/run.json), else the default.
std::string dataset_of(const std::string& checkpoint) {
  const auto run_json = std::filesystem::path(checkpoint).parent_path().parent_path() / "run.json";
  try {
    if (std::filesystem::exists(run_json))
      return nlohmann::json::parse(read_file(run_json.string())).at("dataset").get<std::string>();
  } catch (const std::exception&) {
  }
  return default_dataset();
}

int cmd_eval(CliArgs& args) {
  const std::string checkpoint = args.has("checkpoint") ? args.take("checkpoint") : std::string();
  InferenceModel m = load_model(checkpoint, args.take("device", "auto"));
  TextDataset data = TextDataset::from_file(args.take("data", dataset_of(checkpoint)));
  const int batches = args.take_int("batches", m.config().eval_iters, 1);
  reject_rest(args);
  std::printf("train loss %.4f\nval loss %.4f\n", m.loss(data, false, batches, m.config().seed + 1),
              m.loss(data, true, batches, m.config().seed + 1));
  return 0;
}

int cmd_generate(CliArgs& args) {
  InferenceModel m = load_model(args);
  GenerationOptions g;
  const std::string prompt = args.take("prompt");
  g.length = args.take_int("length", g.length, 0);
  g.temperature = args.take_double("temperature", g.temperature);
  g.top_k = args.take_int("top_k", g.top_k, 0);
  g.seed = static_cast<uint64_t>(args.take_int("seed", static_cast<int>(g.seed)));
  g.use_cache = !args.take_flag("no-cache");
  reject_rest(args);
  // the prompt is printed once generation has accepted it (an unknown character is an error, not output)
  bool shown = false;
  m.generate(prompt, g, [&](const std::string& piece) {
    if (!shown) std::cout << prompt, shown = true;
    std::cout << piece << std::flush;
    return true;
  });
  if (!shown) std::cout << prompt;
  std::cout << "\n";
  return 0;
}

int cmd_trace(CliArgs& args) {
  InferenceModel m = load_model(args);
  std::string text = args.take("text");
  const std::string file = args.take("text-file");
  if (!file.empty()) text = read_file(file);
  if (text.empty()) throw std::invalid_argument("trace needs --text TEXT or --text-file FILE (non-empty)");
  const std::string out = args.take("out");
  const bool capacity = args.take_flag("capacity");
  reject_rest(args);
  const std::string json = m.trace(text, {}, capacity).to_json();
  if (out.empty()) std::cout << json << "\n";
  else atomic_write(out, json);
  return 0;
}

// Knocks out or forces one expert of a layer (never touching the checkpoint) and reports what changes: the
// validation loss on the same batches, per character class on a text, and per character into a CSV.
int cmd_intervene(CliArgs& args) {
  const std::string checkpoint = args.has("checkpoint") ? args.take("checkpoint") : std::string();
  InferenceModel m = load_model(checkpoint, args.take("device", "auto"));
  TextDataset data = TextDataset::from_file(args.take("data", dataset_of(checkpoint)));
  Intervention iv;
  iv.layer = args.take_int("layer", -1, 0);
  iv.disable = args.take_int("disable", -1, 0);
  iv.force = args.take_int("force", -1, 0);
  if (iv.layer < 0) throw std::invalid_argument("intervene needs --layer L and --disable E or --force E");
  std::string text = args.take("text");
  const std::string file = args.take("text-file");
  if (!file.empty()) text = read_file(file);
  if (text.empty()) text = data.probe_text(kInterventionTextChars);  // the start of the validation split
  const std::string out = args.take("out");
  const int batches = args.take_int("batches", m.config().eval_iters, 1);
  reject_rest(args);
  const InferenceModel changed = m.intervened(iv);
  const uint64_t seed = m.config().seed + 1;
  const double val = m.loss(data, true, batches, seed), val_changed = changed.loss(data, true, batches, seed);
  std::printf("intervention: %s\nvalidation loss %.4f -> %.4f (%+.4f) over %d batches\n", iv.describe().c_str(), val,
              val_changed, val_changed - val, batches);
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
  std::printf("%-20s %10lld %6.1f%% %8.4f %8.4f %+8.4f\n", "all", static_cast<long long>(cmp.all.characters), 100.0,
              cmp.all.base, cmp.all.changed, cmp.all.delta());
  if (!out.empty()) {
    std::string csv = "# per-character cross-entropy (nats) of predicting the character, before and after: " +
                      iv.describe() + "\nposition,character,loss,loss_after,delta\n";
    for (size_t i = 1; i < chars.size(); ++i)
      csv += std::to_string(i) + "," + csv_cell(encode_utf8(chars[i])) + "," + with_decimals(base[i], 6) + "," +
             with_decimals(after[i], 6) + "," + with_decimals(after[i] - base[i], 6) + "\n";
    atomic_write(out, csv);
  }
  return 0;
}

// "a,b,c" -> {"a", "b", "c"}; empty text -> {}.
std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  for (char ch : text + ",") {
    if (ch != ',') { item += ch; continue; }
    if (!item.empty()) out.push_back(item);
    item.clear();
  }
  return out;
}

int cmd_bench(CliArgs& args, int argc, char** argv) {
  TextDataset data = TextDataset::from_file(args.take("data", default_dataset()));
  BenchOptions o;
  o.train_steps = args.take_int("steps", o.train_steps, 1);
  ScalingOptions scaling;
  scaling.nproc = args.take_int("nproc", 1, 1);
  scaling.timeout = std::chrono::seconds(args.take_int("timeout", kDefaultGroupTimeout, 1));
  scaling.steps = o.train_steps;
  scaling.warmup = o.warmup_steps;
  const std::string scaling_result = args.take("scaling-result");
  if (scaling.nproc > 1 || !scaling_result.empty()) {
    Config c = build_config(args);
    if (!scaling_result.empty()) return run_scaling_rank(c, data, scaling, scaling_result);
    require_distributed();
    scaling.rank_args = without_option(argc, argv, "nproc");
    return run_scaling_bench(c, data, scaling);
  }
  o.generate_tokens = args.take_int("gen", o.generate_tokens, 1);
  o.variants = comma_list(args.take("variants"));
  for (const auto& n : comma_list(args.take("sweep_experts"))) {
    const auto value = parse_int64(n);
    if (!value || *value < 1 || *value > 4096)
      throw std::invalid_argument("--sweep_experts: '" + n + "' is not an expert count from 1 to 4096");
    o.expert_counts.push_back(static_cast<int>(*value));
  }
  o.peak_tflops = args.take_double("peak_tflops", 0);
  Config c = build_config(args);
  std::cout << "bench: n_layer " << c.n_layer << ", d " << c.n_embd << ", context " << c.block_size << ", batch "
            << c.batch_size << ", N " << c.n_experts << ", precision " << c.precision << ", " << o.train_steps
            << " timed steps, " << o.generate_tokens << " generated characters\n";
  const auto rows = run_bench(c, data, o, [](const BenchRow& r) { std::cerr << "  measured " << r.variant << "\n"; });
  std::cout << format_bench_table(rows, o.peak_tflops);
  return 0;
}

int cmd_suite(CliArgs& args) {
  if (args.positional().empty() || args.positional()[0] != "paper")
    throw std::invalid_argument("the only suite is 'paper': moewb-cli suite paper [--dir DIR]");
  const std::string dir = args.take("dir", "runs/paper-suite");
  const std::string data_path = std::filesystem::absolute(args.take("data", default_dataset())).string();
  std::optional<Suite> suite;
  if (file_exists(dir + "/suite.json")) {
    suite = Suite::open(dir);
    std::cout << "continuing the suite in " << dir << "\n";
  } else {
    Config base = build_config(args);
    suite = Suite::create(dir, base, data_path);
  }
  for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, on_stop_signal);
  int last_percent = -1;
  const bool complete = suite->run(g_interrupted, [&](const SuiteProgress& p) {
    const int percent = static_cast<int>(p.fraction() * 100);
    if (percent == last_percent && p.step != p.max_iters) return;
    last_percent = percent;
    std::printf("suite %3d%% | run %d/%d %s | step %d/%d\n", percent, p.variant + 1, p.variants, p.folder.c_str(),
                p.step, p.max_iters);
    std::fflush(stdout);
  });
  if (!complete) {
    std::cout << "suite stopped; continue with: moewb-cli suite paper --dir " << dir << "\n";
    return 130;
  }
  const Table table = comparison_table(suite->summaries());
  std::cout << "\n" << table.to_markdown() << "\nThe paper (its GPU, linear d x d experts):\n" << paper_table().to_markdown();
  atomic_write(dir + "/comparison.md", table.to_markdown());
  atomic_write(dir + "/comparison.csv", table.to_csv());
  atomic_write(dir + "/comparison.tex", table.to_latex("Five-run comparison (moewb)"));
  return 0;
}

int cmd_export(CliArgs& args, int argc, char** argv) {
  const std::string run = args.take("run");
  if (run.empty()) throw std::invalid_argument("export needs --run DIR");
  const std::string formats = args.take("format", "png,svg,pdf");
  const int dpi = args.take_int("dpi", 200, 24);
  const std::string style = args.take("style", "paper");
  reject_rest(args);
#ifdef MOEWB_HAVE_QT
  return export_run_cli(argc, argv, run, formats, dpi, style);
#else
  (void)argc, (void)argv, (void)formats, (void)dpi, (void)style;
  throw std::runtime_error("figure export needs the Qt build (Qt 6 Gui and Svg; configure with -DMOEWB_GUI=ON or -DMOEWB_TESTS=ON)");
#endif
}

int cmd_export_pt(CliArgs& args) {
  InferenceModel m = load_model(args);
  const std::string out = args.take("out");
  if (out.empty()) throw std::invalid_argument("export-pt needs --out FILE");
  const bool masks = args.take_flag("attn-bias");
  reject_rest(args);
  const bool safetensors = std::filesystem::path(out).extension() == ".safetensors";
  if (safetensors) m.export_safetensors(out);
  else m.export_state_dict(out, masks);
  std::cout << "wrote " << out << " (" << m.parameter_count() << " parameters, nanoGPT key names, "
            << (safetensors ? "safetensors" : "torch.load") << ")\n";
  if (m.config().is_moe())
    std::cout << "MoE model: the shared parts use nanoGPT's keys; each feed-forward is transformer.h.N.moe.* "
                 "(router.weight, c_fc.*, c_proj.*: README, \"export-pt\") instead of mlp.*, so nanoGPT's model.py "
                 "does not load it\n";
  else if (!safetensors)
    std::cout << (masks ? "loads with strict=True into nanoGPT's model.py on torch < 2 (attention masks included)"
                        : "loads with strict=True into nanoGPT's model.py on torch >= 2; --attn-bias for torch < 2")
              << "\n";
  return 0;
}

int cmd_import_pt(CliArgs& args) {
  const std::string pt = args.take("pt");
  if (pt.empty()) throw std::invalid_argument("import-pt needs --pt FILE (a nanoGPT checkpoint or state_dict)");
  const std::string data_path = args.take("data", default_dataset());
  std::string run_dir = args.take("run");
  const int n_head = args.take_int("n_head", 0, 1);
  TextDataset data = TextDataset::from_file(data_path);
  Config base = preset("cpu-quick");
  InferenceModel m = InferenceModel::import_nanogpt(pt, data.vocab, base, n_head);
  Config c = m.config();
  std::vector<FieldError> errors;
  for (const auto& [key, value] : args.rest()) {
    if (key == "n_layer" || key == "n_embd" || key == "block_size" || key == "bias" || key == "ffn")
      errors.push_back({key, "comes from the imported weights"});
    else if (std::string error = apply_override(c, key, value); !error.empty())
      errors.push_back({key, error});
  }
  if (!errors.empty()) throw ConfigError(errors);
  if (run_dir.empty()) run_dir = default_run_dir(c);
  auto trainer = Trainer::create(c, data, run_dir, std::filesystem::absolute(data_path).string(), &m);
  trainer->save_latest();
  std::cout << "imported " << pt << " into " << run_dir << ": " << c.n_layer << " layers, width " << c.n_embd
            << ", " << c.n_head << " heads, context " << c.block_size << ", " << m.parameter_count()
            << " parameters; generate, trace, eval or resume it (resume trains to max_iters " << c.max_iters
            << ")\n";
  return 0;
}

// LibTorch's errors carry a C++ backtrace after "Exception raised from": users get the first part, --verbose all.
std::string without_backtrace(const std::string& what, bool verbose) {
  if (verbose) return what;
  std::string text = what.substr(0, what.find("Exception raised from"));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

// In a data-parallel group every rank may fail the same way: the others' lines say which rank they come from.
std::string rank_prefix() {
  const char* rank = std::getenv("RANK");
  const char* world = std::getenv("WORLD_SIZE");
  if (!rank || !world || std::string(rank) == "0" || std::string(world) == "1") return "";
  return "rank " + std::string(rank) + ": ";
}

int main(int argc, char** argv) {
  bool verbose = false;
  try {
    CliArgs args(argc, argv, {"no-cache", "attn-bias", "capacity", "no-train", "help", "verbose"});
    verbose = args.take_flag("verbose");
    const std::string cmd = args.command();
    if (cmd.empty() || cmd == "help" || args.has("help")) {
      std::cout << kUsage;
      return cmd.empty() ? 2 : 0;
    }
    if (cmd == "train") return cmd_train(args, argc, argv);
    if (cmd == "resume") return cmd_resume(args, argc, argv);
    if (cmd == "eval") return cmd_eval(args);
    if (cmd == "generate") return cmd_generate(args);
    if (cmd == "trace") return cmd_trace(args);
    if (cmd == "intervene") return cmd_intervene(args);
    if (cmd == "import-pt") return cmd_import_pt(args);
    if (cmd == "prune") return cmd_prune(args, run_training);
    if (cmd == "upcycle") return cmd_upcycle(args, run_training);
    if (cmd == "keys") {
      reject_rest(args);
      std::cout << config_keys_markdown();
      return 0;
    }
    if (cmd == "bench") return cmd_bench(args, argc, argv);
    if (cmd == "export-pt") return cmd_export_pt(args);
    if (cmd == "suite") return cmd_suite(args);
    if (cmd == "export") return cmd_export(args, argc, argv);
    if (cmd == "presets") {
      for (const auto& name : preset_names()) std::cout << name << ":\n" << to_json(preset(name)) << "\n";
      return 0;
    }
    std::cerr << "unknown command '" << cmd << "'\n" << kUsage;
    return 2;
  } catch (const GroupError& e) {
    std::cerr << "error: " << without_backtrace(e.what(), verbose) << "\n";
    return kGroupLostExitCode;
  } catch (const ConfigError& e) {
    std::cerr << rank_prefix() << "invalid configuration:\n" << e.what();
  } catch (const std::exception& e) {
    const std::string what = without_backtrace(e.what(), verbose);
    std::cerr << (what.rfind("rank ", 0) == 0 ? "" : rank_prefix()) << "error: " << what << "\n";
  }
  return 1;
}
