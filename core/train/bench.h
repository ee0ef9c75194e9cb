// Throughput benchmark: training and generation speed for the dense model and every routing mode at the same
// model size and batch, reported as ratios to dense in one run (the machines are noisy; ratios travel).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/data/text_dataset.h"

namespace moewb {

struct BenchRow {
  std::string variant;
  int n_experts = 0;                           // 0 for dense
  double ms_per_iter = 0;                      // one optimisation step, device work included
  double train_tokens_per_sec = 0;
  double model_tflops = 0;                     // achieved model FLOP/s (6 x active weights + attention), TFLOP/s
  double peak_memory_mb = 0;                   // CUDA allocator peak during training; process peak RSS on CPU
  double generate_tokens_per_sec = 0;          // KV cache
  double generate_nocache_tokens_per_sec = 0;  // whole context recomputed per character
  double flops_per_token = 0;                  // training FLOPs per token (nanoGPT's estimate)
  // MoE variants: ms per step in each phase of the MoE layers (route, group, experts, combine, backward; summed
  // over layers) from extra steps timed phase by phase; the backward phase only where the CPU's grouped experts
  // run it (the generic dispatch's backward is LibTorch's autograd, not timed apart). Empty for dense.
  std::vector<double> moe_phase_ms;
};

struct BenchOptions {
  int train_steps = 30;
  int warmup_steps = 5;
  int generate_tokens = 300;
  int repeats = 3;                    // measurements per variant, round-robin; medians reported
  std::vector<std::string> variants;  // names to run (dense, softmax, top-2, ...); empty: all
  std::vector<int> expert_counts;     // N per MoE variant; empty: the base config's
  double peak_tflops = 0;             // the device's peak for the precision, for MFU; 0: not reported
};

// Names of the variants run_bench knows, for `base` (top-k names carry k).
std::vector<std::string> bench_variant_names(const Config& base);

// `base` gives the model size, batch and precision; its ffn/routing fields are replaced per variant.
// Throws std::invalid_argument for an unknown variant name.
// Every variant is measured `repeats` times, round-robin; each row holds the medians (and the largest peak).
// `on_measured` hears each measurement (variant, round from 1).
std::vector<BenchRow> run_bench(const Config& base, const TextDataset& data, const BenchOptions& options,
                                const std::function<void(const std::string&, int)>& on_measured = {});
// Training throughput (tokens/s over all ranks) of `config` alone: `warmup` steps, then `steps` timed. With a
// group every rank calls it and trains its slice of the global batch (Trainer::join, with `expert_parallel` its
// share of the experts); all return the same value.
class Collective;
double measure_training_throughput(const Config& config, const TextDataset& data, int steps, int warmup,
                                   const std::shared_ptr<Collective>& group = nullptr, bool expert_parallel = false);

std::string format_bench_table(const std::vector<BenchRow>& rows, double peak_tflops = 0);
// Where each MoE variant's step goes: its phases beside the time it takes over dense and the FLOPs it does.
std::string format_moe_breakdown(const std::vector<BenchRow>& rows);

}  // namespace moewb
