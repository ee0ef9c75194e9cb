#include "core/train/bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "core/base/process_memory.h"
#include "core/model/batches.h"
#include "core/model/moe_timing.h"
#include "core/model/precision.h"
#include "core/train/optimizer.h"
#include "core/train/training.h"

namespace moewb {

namespace {

std::vector<std::pair<std::string, Config>> variants(const Config& base) {
  auto moe = [&](RoutingMode routing, bool capacity, double cf) {
    Config c = base;
    c.ffn = Ffn::moe;
    c.routing = routing;
    c.use_capacity = capacity;
    c.capacity_factor = cf;
    return c;
  };
  Config dense = base;
  dense.ffn = Ffn::dense;
  dense.use_capacity = false;
  const std::string topk = "top-" + std::to_string(base.top_k);
  return {{"dense", dense},
          {"softmax", moe(RoutingMode::softmax, false, 1.0)},
          {topk, moe(RoutingMode::topk, false, 1.0)},
          {topk + " cf1.0", moe(RoutingMode::topk, true, 1.0)},
          {topk + " cf0.5", moe(RoutingMode::topk, true, 0.5)},
          {"sigmoid", moe(RoutingMode::sigmoid, false, 1.0)},
          {"hash", moe(RoutingMode::hash, false, 1.0)}};
}

// nanoGPT's estimate: 6 FLOPs per weight a token passes through (forward and backward) plus attention's
// 12 * layers * width * context; position embeddings are looked up, not multiplied.
double flops_per_token(const Config& c, int vocab) {
  const double weights = static_cast<double>(count_active_parameters(c, vocab)) - c.block_size * c.n_embd;
  return 6.0 * weights + 12.0 * c.n_layer * c.n_embd * c.block_size;
}

// `base` trained for up to warmup + 2 * steps (+ 1, whose evaluation is not run) without evaluating or logging
// between.
Config timed_config(const Config& base, int warmup, int steps) {
  Config config = base;
  config.max_iters = warmup + 2 * steps + 1;  // room for the phase-timed steps after the timed ones
  config.lr_decay_iters = config.max_iters;
  config.warmup_iters = 0;
  config.eval_interval = config.max_iters + 1;
  config.eval_iters = 1;
  config.log_interval = config.max_iters;
  return config;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

std::vector<std::string> bench_variant_names(const Config& base) {
  std::vector<std::string> names;
  for (const auto& v : variants(base)) names.push_back(v.first);
  return names;
}

namespace {

struct Variant {
  std::string name;
  Config config;
  int n_experts;  // 0: dense
};

// One measurement of one variant: its training steps, then its generation.
BenchRow measure_variant(const Variant& v, const TextDataset& data, const BenchOptions& o, const torch::Device& device) {
  const Config& config = v.config;
  // each variant's own peak: the one before it is gone, and its freed memory with it
  if (!device.is_cuda()) reset_peak_rss();
  auto trainer = Trainer::create(config, data, "", "");
  trainer->advance();  // the evaluation at step 0
  for (int i = 0; i < o.warmup_steps; ++i) trainer->advance();
  synchronize(device);
  reset_peak_device_memory(device);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < o.train_steps; ++i) trainer->advance();
  synchronize(device);
  const double seconds = seconds_since(start);
  BenchRow row;
  row.variant = v.name;
  row.n_experts = v.n_experts;
  row.peak_memory_mb = device.is_cuda() ? peak_device_memory_mb(device) : peak_rss_mb();
  if (config.is_moe()) {
    // phase by phase in steps of their own: on CUDA timing synchronises, which would slow the steps above
    const int timed = std::max(3, o.train_steps / 3);
    time_moe_phases(true);
    for (int i = 0; i < timed; ++i) trainer->advance();
    const MoePhaseTimes phases = take_moe_times();
    time_moe_phases(false);
    for (double t : phases.seconds) row.moe_phase_ms.push_back(1000.0 * t / timed);
  }
  row.ms_per_iter = 1000.0 * seconds / o.train_steps;
  row.flops_per_token = flops_per_token(config, data.vocab.size());
  InferenceModel model = trainer->snapshot();
  trainer.reset();
  for (bool cache : {true, false}) {
    GenerationOptions g;
    g.length = o.generate_tokens;
    g.use_cache = cache;
    start = std::chrono::steady_clock::now();
    model.generate("", g);  // returns text on the host: the device work is done
    (cache ? row.generate_tokens_per_sec : row.generate_nocache_tokens_per_sec) =
        o.generate_tokens / seconds_since(start);
  }
  return row;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The median of every timing over the rounds; the largest peak.
BenchRow summarise(const std::vector<BenchRow>& samples, const Config& config) {
  BenchRow row = samples.front();
  auto median_of = [&](double BenchRow::*field) {
    std::vector<double> v;
    for (const auto& s : samples) v.push_back(s.*field);
    return median(v);
  };
  row.ms_per_iter = median_of(&BenchRow::ms_per_iter);
  row.generate_tokens_per_sec = median_of(&BenchRow::generate_tokens_per_sec);
  row.generate_nocache_tokens_per_sec = median_of(&BenchRow::generate_nocache_tokens_per_sec);
  for (const auto& s : samples) row.peak_memory_mb = std::max(row.peak_memory_mb, s.peak_memory_mb);
  for (size_t p = 0; p < row.moe_phase_ms.size(); ++p) {
    std::vector<double> v;
    for (const auto& s : samples) v.push_back(s.moe_phase_ms[p]);
    row.moe_phase_ms[p] = median(v);
  }
  const double tokens_per_step = static_cast<double>(config.batch_size) * config.block_size;
  row.train_tokens_per_sec = tokens_per_step * 1000.0 / row.ms_per_iter;
  row.model_tflops = row.train_tokens_per_sec * row.flops_per_token / 1e12;
  return row;
}

}  // namespace

std::vector<BenchRow> run_bench(const Config& base, const TextDataset& data, const BenchOptions& o,
                                const std::function<void(const std::string&, int)>& on_measured) {
  const auto known = bench_variant_names(base);
  for (const auto& v : o.variants)
    if (std::find(known.begin(), known.end(), v) == known.end())
      throw std::invalid_argument("unknown bench variant '" + v + "'");
  const torch::Device device = pick_device(base.device);
  const std::vector<int> counts = o.expert_counts.empty() ? std::vector<int>{base.n_experts} : o.expert_counts;
  std::vector<Variant> plan;
  for (auto [name, variant] : variants(base)) {
    if (!o.variants.empty() && std::find(o.variants.begin(), o.variants.end(), name) == o.variants.end()) continue;
    for (int n : variant.is_moe() ? counts : std::vector<int>{0}) {
      Config config = timed_config(variant, o.warmup_steps, o.train_steps);
      if (n > 0) config.n_experts = n;
      plan.push_back({name, config, n});
    }
  }
  // round-robin: a slow minute on a shared machine hits one round of every variant, not every round of one
  std::vector<std::vector<BenchRow>> samples(plan.size());
  for (int round = 1; round <= std::max(1, o.repeats); ++round) {
    for (size_t i = 0; i < plan.size(); ++i) {
      samples[i].push_back(measure_variant(plan[i], data, o, device));
      if (on_measured) on_measured(plan[i].name, round);
    }
  }
  std::vector<BenchRow> rows;
  for (size_t i = 0; i < plan.size(); ++i) rows.push_back(summarise(samples[i], plan[i].config));
  return rows;
}

double measure_training_throughput(const Config& base, const TextDataset& data, int steps, int warmup,
                                   const std::shared_ptr<Collective>& group, bool expert_parallel) {
  const Config config = timed_config(base, warmup, steps);
  const torch::Device device = pick_device(config.device);
  auto trainer = Trainer::create(config, data, "", "");
  if (group) trainer->join(group, expert_parallel);
  trainer->advance();  // the evaluation at step 0
  for (int i = 0; i < warmup; ++i) trainer->advance();
  synchronize(device);
  if (group) group->any(false);  // every rank starts the clock together
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) trainer->advance();
  synchronize(device);
  if (group) group->any(false);  // and stops it when the slowest is done
  return static_cast<double>(steps) * config.batch_size * config.block_size / seconds_since(start);
}

std::string format_bench_table(const std::vector<BenchRow>& rows, double peak_tflops) {
  if (rows.empty()) return "";
  const auto dense = std::find_if(rows.begin(), rows.end(), [](const BenchRow& r) { return r.n_experts == 0; });
  std::string out;
  char line[320];
  std::snprintf(line, sizeof line, "%-14s %4s %9s %12s %8s %8s %6s %9s %10s %8s %11s %8s\n", "variant", "N",
                "ms/iter", "train tok/s", "x dense", "TFLOP/s", "MFU", "peak MiB", "gen chr/s", "x dense",
                "no-cache/s", "cache x");
  out += line;
  // "-" rather than nan when the dense variant was not measured
  auto ratio_to_dense = [&](double value, double BenchRow::*field) {
    if (dense == rows.end()) return std::string("-");
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", value / (*dense).*field);
    return std::string(text);
  };
  for (const auto& r : rows) {
    const std::string train_ratio = ratio_to_dense(r.train_tokens_per_sec, &BenchRow::train_tokens_per_sec);
    const std::string gen_ratio = ratio_to_dense(r.generate_tokens_per_sec, &BenchRow::generate_tokens_per_sec);
    const std::string mfu =
        peak_tflops > 0 ? std::to_string(static_cast<int>(100 * r.model_tflops / peak_tflops + 0.5)) + "%" : "-";
    std::snprintf(line, sizeof line, "%-14s %4s %9.2f %12.0f %8s %8.1f %6s %9.0f %10.0f %8s %11.0f %8.2f\n",
                  r.variant.c_str(), r.n_experts ? std::to_string(r.n_experts).c_str() : "-", r.ms_per_iter,
                  r.train_tokens_per_sec, train_ratio.c_str(), r.model_tflops, mfu.c_str(), r.peak_memory_mb,
                  r.generate_tokens_per_sec, gen_ratio.c_str(), r.generate_nocache_tokens_per_sec,
                  r.generate_tokens_per_sec / r.generate_nocache_tokens_per_sec);
    out += line;
  }
  return out;
}

std::string format_moe_breakdown(const std::vector<BenchRow>& rows) {
  const auto dense = std::find_if(rows.begin(), rows.end(), [](const BenchRow& r) { return r.n_experts == 0; });
  std::string out;
  char line[320];
  std::snprintf(line, sizeof line, "%-14s %4s %9s %9s %9s | %7s %7s %7s %7s %8s %7s\n", "MoE layers", "N", "FLOPs x",
                "time x", "ms/iter", "route", "group", "experts", "combine", "backward", "share");
  out += line;
  for (const auto& r : rows) {
    if (r.moe_phase_ms.empty()) continue;
    double moe = 0;
    for (double ms : r.moe_phase_ms) moe += ms;
    auto ratio = [&](double value, double dense_value) {
      if (dense == rows.end() || dense_value <= 0) return std::string("-");
      char text[32];
      std::snprintf(text, sizeof text, "%.2f", value / dense_value);
      return std::string(text);
    };
    const std::string flops = ratio(r.flops_per_token, dense == rows.end() ? 0 : dense->flops_per_token);
    const std::string time = ratio(r.ms_per_iter, dense == rows.end() ? 0 : dense->ms_per_iter);
    const auto& p = r.moe_phase_ms;
    // a backward pass not timed apart reads "-", not 0
    char backward[32];
    if (p[4] > 0) std::snprintf(backward, sizeof backward, "%.2f", p[4]);
    else std::snprintf(backward, sizeof backward, "-");
    std::snprintf(line, sizeof line, "%-14s %4d %9s %9s %9.2f | %7.2f %7.2f %7.2f %7.2f %8s %6.0f%%\n",
                  r.variant.c_str(), r.n_experts, flops.c_str(), time.c_str(), r.ms_per_iter, p[0], p[1], p[2], p[3],
                  backward, 100.0 * moe / r.ms_per_iter);
    out += line;
  }
  return out;
}

}  // namespace moewb
