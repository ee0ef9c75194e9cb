#include "bench.h"

#include <chrono>
#include <cstdio>

#include "training.h"

namespace moewb {

namespace {

std::vector<std::pair<std::string, Config>> variants(const Config& base) {
  auto moe = [&](const std::string& routing, bool capacity, double cf) {
    Config c = base;
    c.ffn = "moe";
    c.routing = routing;
    c.use_capacity = capacity;
    c.capacity_factor = cf;
    return c;
  };
  Config dense = base;
  dense.ffn = "dense";
  dense.use_capacity = false;
  return {{"dense", dense},
          {"softmax", moe("softmax", false, 1.0)},
          {"top-" + std::to_string(base.top_k), moe("topk", false, 1.0)},
          {"top-" + std::to_string(base.top_k) + " cf1.0", moe("topk", true, 1.0)},
          {"top-" + std::to_string(base.top_k) + " cf0.5", moe("topk", true, 0.5)},
          {"sigmoid", moe("sigmoid", false, 1.0)},
          {"hash", moe("hash", false, 1.0)}};
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

std::vector<BenchRow> run_bench(const Config& base, const TextDataset& data, const BenchOptions& o,
                                const std::function<void(const BenchRow&)>& on_row) {
  std::vector<BenchRow> rows;
  for (auto [name, config] : variants(base)) {
    config.max_iters = o.warmup_steps + o.train_steps + 1;
    config.lr_decay_iters = config.max_iters;
    config.warmup_iters = 0;
    config.eval_interval = config.max_iters + 1;
    config.eval_iters = 1;
    config.log_interval = config.max_iters;
    auto trainer = Trainer::create(config, data, "", "");
    trainer->advance();  // the evaluation at step 0
    for (int i = 0; i < o.warmup_steps; ++i) trainer->advance();
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < o.train_steps; ++i) trainer->advance();
    BenchRow row;
    row.variant = name;
    row.train_tokens_per_sec = static_cast<double>(o.train_steps) * config.batch_size * config.block_size /
                               seconds_since(start);
    InferenceModel model = trainer->snapshot();
    for (bool cache : {true, false}) {
      GenerationOptions g;
      g.length = o.generate_tokens;
      g.use_cache = cache;
      start = std::chrono::steady_clock::now();
      model.generate("", g);
      (cache ? row.generate_tokens_per_sec : row.generate_nocache_tokens_per_sec) =
          o.generate_tokens / seconds_since(start);
    }
    rows.push_back(row);
    if (on_row) on_row(row);
  }
  return rows;
}

std::string format_bench_table(const std::vector<BenchRow>& rows) {
  if (rows.empty()) return "";
  const BenchRow& dense = rows.front();
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-14s %12s %8s %12s %8s %14s %9s\n", "variant", "train tok/s", "x dense",
                "gen tok/s", "x dense", "no-cache tok/s", "cache x");
  out += line;
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%-14s %12.0f %8.2f %12.0f %8.2f %14.0f %9.2f\n", r.variant.c_str(),
                  r.train_tokens_per_sec, r.train_tokens_per_sec / dense.train_tokens_per_sec,
                  r.generate_tokens_per_sec, r.generate_tokens_per_sec / dense.generate_tokens_per_sec,
                  r.generate_nocache_tokens_per_sec, r.generate_tokens_per_sec / r.generate_nocache_tokens_per_sec);
    out += line;
  }
  return out;
}

}  // namespace moewb
