// `moewb-cli bench`: speed and memory per routing variant; with --nproc the data-parallel scaling (scaling_bench.h).
#include "app/cli/bench_commands.h"

#include <iostream>

#include "app/cli/cli_common.h"
#include "app/cli/local_launcher.h"
#include "app/cli/scaling_bench.h"
#include "core/base/numbers.h"
#include "core/base/process_memory.h"
#include "core/model/machine.h"
#include "core/train/bench.h"

namespace moewb {

namespace {

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

struct BenchCommandOptions {
  std::string preset = "cpu-quick", data = default_dataset(), variants, sweep_experts, scaling_result;
  BenchOptions bench;
  GroupOptions group;
  ConfigOverrides overrides;
};

void add_bench_options(CLI::App* app, BenchCommandOptions& o) {
  app->add_option("--preset", o.preset, "the config measured")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  app->add_option("--data", o.data, "the text")->type_name("FILE")->capture_default_str();
  add_int(app, "steps", o.bench.train_steps, "timed training steps", 1);
  add_int(app, "gen", o.bench.generate_tokens, "generated characters", 1);
  add_int(app, "repeats", o.bench.repeats, "measurements per variant, round-robin (medians reported)", 1);
  app->add_option("--variants", o.variants, "comma-separated, e.g. dense,top-2 (default: every routing mode)");
  app->add_option("--sweep_experts", o.sweep_experts, "comma-separated expert counts, e.g. 4,16,64");
  add_number(app, "peak_tflops", o.bench.peak_tflops, "the device's peak TFLOP/s, for MFU");
  o.group.add_to(app);
  // the ranks that bench --nproc starts hand their throughput back in this file
  app->add_option("--scaling-result", o.scaling_result)->group("");
  add_config_keys(app, o.overrides);
}

// bench --nproc N starts the ranks; each of them (--scaling-result FILE) measures its share.
int run_scaling(const Config& c, const TextDataset& data, const BenchCommandOptions& o, int argc, char** argv) {
  ScalingOptions scaling;
  scaling.nproc = o.group.nproc;
  scaling.timeout = std::chrono::seconds(o.group.timeout);
  scaling.steps = o.bench.train_steps;
  scaling.warmup = o.bench.warmup_steps;
  scaling.expert_parallel = o.group.expert_parallel;
  if (!o.scaling_result.empty()) return run_scaling_rank(c, data, scaling, o.scaling_result);
  require_distributed();
  scaling.rank_args = without_option(argc, argv, "nproc");
  return run_scaling_bench(c, data, scaling);
}

// The measurements with --variants and --sweep_experts read.
BenchOptions bench_options(const BenchCommandOptions& o) {
  BenchOptions b = o.bench;
  b.variants = comma_list(o.variants);
  for (const auto& n : comma_list(o.sweep_experts)) {
    const auto value = parse_int64(n);
    if (!value || *value < 1 || *value > 4096)
      throw CLI::ValidationError("--sweep_experts: '" + n + "' is not an expert count from 1 to 4096");
    b.expert_counts.push_back(static_cast<int>(*value));
  }
  return b;
}

// Every variant measured in one process: the table on stdout.
int run_variants(const Config& c, const TextDataset& data, const BenchOptions& b) {
  g_log->info(
      "bench: n_layer {}, d {}, context {}, batch {}, N {}, precision {}, {} timed steps, {} "
      "generated characters, {} rounds; {} threads, {}",
      c.n_layer, c.n_embd, c.block_size, c.batch_size, c.n_experts, name_of(c.precision), b.train_steps, b.generate_tokens,
      b.repeats, training_threads(), allocator_name());
  // progress on stderr: stdout is the table
  const auto rows = run_bench(c, data, b, [](const std::string& variant, int round) {
    std::cerr << "  measured " << variant << " (round " << round << ")\n";
  });
  std::cout << format_bench_table(rows, b.peak_tflops);
  const std::string breakdown = format_moe_breakdown(rows);
  if (breakdown.find('\n') + 1 < breakdown.size()) std::cout << "\n" << breakdown;
  return 0;
}

int run_bench_command(const BenchCommandOptions& o, int argc, char** argv) {
  TextDataset data = TextDataset::from_file(o.data);
  Config c = build_config(o.preset, "", o.overrides);
  if (o.group.expert_parallel && o.group.nproc <= 1 && o.scaling_result.empty())
    std::cerr << "warning: --expert-parallel: a single process holds every expert (give --nproc N)\n";
  if (o.group.nproc > 1 || !o.scaling_result.empty()) return run_scaling(c, data, o, argc, argv);
  return run_variants(c, data, bench_options(o));
}

}  // namespace

Command add_bench(CLI::App& root, int argc, char** argv) {
  auto o = std::make_shared<BenchCommandOptions>();
  CLI::App* app = root.add_subcommand(
      "bench", "training and generation speed and memory per routing variant (--nproc: data-parallel scaling)");
  add_bench_options(app, *o);
  return {app, [o, argc, argv] { return run_bench_command(*o, argc, argv); }};
}

}  // namespace moewb
