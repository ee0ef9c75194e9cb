// Throughput benchmark: training and generation tokens/s for the dense model and every routing mode at the
// same model size and batch, reported as ratios to dense in one run (the machines are noisy; ratios travel).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "config.h"
#include "text_dataset.h"

namespace moewb {

struct BenchRow {
  std::string variant;
  double train_tokens_per_sec = 0;
  double generate_tokens_per_sec = 0;          // KV cache
  double generate_nocache_tokens_per_sec = 0;  // whole context recomputed per character
};

struct BenchOptions {
  int train_steps = 30;
  int warmup_steps = 3;
  int generate_tokens = 300;
};

// `base` gives the model size and batch; its ffn/routing fields are replaced per variant.
std::vector<BenchRow> run_bench(const Config& base, const TextDataset& data, const BenchOptions& options,
                                const std::function<void(const BenchRow&)>& on_row = {});
std::string format_bench_table(const std::vector<BenchRow>& rows);

}  // namespace moewb
