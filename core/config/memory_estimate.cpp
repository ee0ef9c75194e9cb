#include "core/config/memory_estimate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "core/base/numbers.h"

namespace moewb {

namespace {
// Values saved per token and layer for the backward pass, in units of the width d, counted from the ops in
// gpt.cpp, moe.cpp and grouped_experts.cpp, then fitted to measured peaks, which include the allocator's slack.
// The CPU's (mimalloc, the grouped experts): within 17 % of the 15 points in tst_config_dataset. CUDA's (the
// generic dispatch, the caching allocator): one measured point, the paper preset.
struct Units {
  double attention;      // layer-norm in/out, q k v, their head-major copies, output, projection
  double residual;
  double dense_mlp;      // layer-norm, 4d pre- and post-GELU, projection
  double softmax_extra;  // softmax routing's one pass over all experts, beyond the dense FFN's
  double mlp_slot;       // per assignment to an mlp expert: its gathered, output and gradient rows
  double mlp_hidden;     // grouped experts: per hidden unit of the assigned expert, as a fraction of d
  double linear_base, linear_slot;
  bool grouped;          // the CPU's grouped experts keep per assignment; the generic dispatch keeps a dense
                         // FFN's worth per layer on top, with slack growing with the experts' width
};
constexpr Units kCpu{5, 2, 12, 0, 2.5, 1, 0, 2, true};
constexpr Units kCuda{10, 2, 11, 7, 15, 0, 8, 3, false};
constexpr double kDropoutMasks = 3;    // embedding, attention output and feed-forward output masks
constexpr double kScoreCopies = 2;     // explicit attention (the CPU's): scores, softmax (per head and key)
constexpr double kLogitCopies = 3;     // logits, log-softmax and their gradient
// int32 token ids: the dataset as loaded, the trainer's copy of it, and the two int64 split tensors
constexpr double kDatasetBytesPerCharacter = 4 + 4 + 8;
constexpr double kBytesPerParameter = 16;  // weight, gradient, AdamW exp_avg and exp_avg_sq in fp32

double feed_forward_units(const Config& c, const Units& u) {
  if (!c.is_moe()) return u.dense_mlp;
  const double slots = c.routing == RoutingMode::hash ? 1 : c.routing == RoutingMode::sigmoid ? c.n_experts : c.top_k;
  if (c.expert_shape == ExpertShape::linear)
    return u.linear_base + u.linear_slot * (c.routing == RoutingMode::softmax ? c.n_experts : slots);
  // experts wider than 4d/N (upcycled copies) keep more
  const double hidden = static_cast<double>(c.expert_hidden_units()) / c.n_embd;  // of one expert, in units of d
  const double width = std::max(1.0, hidden * c.n_experts / 4.0);
  if (c.routing == RoutingMode::softmax) return width * (u.dense_mlp + u.softmax_extra);
  if (u.grouped) return slots * (u.mlp_slot + u.mlp_hidden * hidden);
  return width * (u.dense_mlp + u.mlp_slot * slots);
}

bool half_precision(const Config& c, bool cuda) {
  return c.precision == PrecisionChoice::bf16 || c.precision == PrecisionChoice::fp16 ||
         (c.precision == PrecisionChoice::automatic && cuda);
}

// Values the CPU's explicit attention keeps per token and layer for its scores, against the rest of a layer's.
double score_units(const Config& c) { return kScoreCopies * c.n_head * c.block_size; }

double activations_bytes(const Config& c, int vocab_size, bool cuda) {
  const double d = c.n_embd, tokens = static_cast<double>(c.batch_size) * c.block_size;
  const Units& u = cuda ? kCuda : kCpu;
  double units = u.attention + u.residual + feed_forward_units(c, u) + (c.dropout > 0 ? kDropoutMasks : 0);
  double per_layer = units * d;
  if (!cuda) per_layer += score_units(c);  // CUDA's fused attention saves none
  // autocast keeps layer norms and the softmax in fp32; 1.7 matches the paper preset's 1.7 GB allocator peak
  // on an H100 (dense, bf16, one measured point)
  const double bytes_per_value = half_precision(c, cuda) ? 1.7 : 4;
  return tokens * (c.n_layer * per_layer * bytes_per_value + kLogitCopies * vocab_size * 4.0);
}

// The integer keys the sizes grow with (their defaults: Config{}'s).
constexpr std::pair<const char*, int Config::*> kSizeKeys[] = {
    {"n_layer", &Config::n_layer},       {"n_embd", &Config::n_embd},       {"n_head", &Config::n_head},
    {"block_size", &Config::block_size}, {"batch_size", &Config::batch_size}, {"n_experts", &Config::n_experts},
    {"expert_hidden", &Config::expert_hidden}, {"top_k", &Config::top_k}};

// Of kSizeKeys, the one whose default shrinks size(c) most; `fallback` when none shrinks it.
template <typename Size>
std::string raised_key(const Config& c, Size&& size, const char* fallback) {
  const Config defaults;
  const double now = size(c);
  std::string best = fallback;
  double best_gain = 0;
  for (const auto& [name, member] : kSizeKeys) {
    Config reset = c;
    reset.*member = defaults.*member;
    const double gain = now - size(reset);
    if (gain > best_gain) best = name, best_gain = gain;
  }
  return best;
}

// "n_layer × n_embd² = 4 × 65536²": a product of keys ("key" or "key²", joined by " × ") and its values.
std::string with_values(const Config& c, const std::string& product) {
  std::string values;
  size_t at = 0;
  while (at <= product.size()) {
    size_t end = product.find(" × ", at);
    if (end == std::string::npos) end = product.size();
    std::string factor = product.substr(at, end - at);
    const std::string square = "²";  // two bytes in UTF-8
    const bool squared = factor.size() > square.size() && factor.substr(factor.size() - square.size()) == square;
    if (squared) factor.resize(factor.size() - square.size());
    for (const auto& [name, member] : kSizeKeys)
      if (factor == name)
        values += (values.empty() ? "" : " × ") + std::to_string(c.*member) + (squared ? square : "");
    at = end + std::string(" × ").size();
  }
  return product + " = " + values;
}

// The product of keys the weights grow with through `key`.
std::string weights_product(const Config& c, const std::string& key) {
  if (key == "block_size") return "block_size × n_embd";  // the position embeddings
  if (key == "n_experts" || key == "expert_hidden")
    return c.expert_shape == ExpertShape::linear ? "n_layer × n_experts × n_embd²"
                                                 : "n_layer × n_experts × expert_hidden × n_embd";
  return "n_layer × n_embd²";
}

// The product of keys the activations grow with through `key`.
std::string activations_product(const Config& c, const std::string& key, bool cuda) {
  const bool scores = !cuda && score_units(c) > c.n_embd * (kCpu.attention + kCpu.residual);
  if (key == "n_head" || (key == "block_size" && scores)) return "batch_size × n_layer × n_head × block_size²";
  if (key == "top_k") return "batch_size × block_size × n_layer × top_k × n_embd";
  if (key == "n_experts") return "batch_size × block_size × n_layer × n_experts × n_embd";
  if (key == "expert_hidden") return "batch_size × block_size × n_layer × top_k × expert_hidden";
  return "batch_size × block_size × n_layer × n_embd";
}

}  // namespace

SizeDriver weights_driver(const Config& c, int vocab_size) {
  const std::string key =
      raised_key(c, [vocab_size](const Config& x) { return static_cast<double>(count_parameters(x, vocab_size)); },
                 "n_layer");
  return {key, with_values(c, weights_product(c, key))};
}

MemoryEstimate estimate_training_memory(const Config& c, int vocab_size, int64_t dataset_characters, bool cuda) {
  MemoryEstimate e;
  e.parameters = count_parameters(c, vocab_size);
  e.model_bytes = static_cast<double>(e.parameters) * (kBytesPerParameter + (half_precision(c, cuda) ? 2 : 0));
  e.activations_bytes = activations_bytes(c, vocab_size, cuda);
  e.dataset_bytes = static_cast<double>(dataset_characters) * kDatasetBytesPerCharacter;
  e.weights = weights_driver(c, vocab_size);
  const std::string key = raised_key(
      c, [vocab_size, cuda](const Config& x) { return activations_bytes(x, vocab_size, cuda); }, "batch_size");
  e.activations = {key, with_values(c, activations_product(c, key, cuda))};
  return e;
}

namespace {

// A cgroup file's number of bytes; nothing for "max", a missing file or a v1 "unlimited" (about 2^63).
std::optional<double> cgroup_bytes(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  const auto value = parse_int64(text);
  if (!value || *value < 0 || *value >= (int64_t{1} << 60)) return std::nullopt;
  return static_cast<double>(*value);
}

// One field of a cgroup's memory.stat ("inactive_file 2147483648"); 0 when it is missing.
double stat_bytes(const std::filesystem::path& file, const std::string& field) {
  std::ifstream in(file);
  std::string name, value;
  while (in >> name >> value)
    if (name == field) return static_cast<double>(parse_int64(value).value_or(0));
  return 0;
}

// The memory of a cgroup that reclaim cannot take back: usage without the inactive file cache (Kubernetes' "working
// set"). The pages of files written and not read again, checkpoints among them, count in the usage until reclaimed,
// and the kernel reclaims them before it kills, so counting them would refuse a run that fits after a few saves.
struct CgroupFiles {
  const char *limit, *usage, *inactive_file;  // inactive_file: the memory.stat field
};

// The tightest limit - working set from `leaf` up to `top` (both inside one hierarchy); 0 when none is limited.
double headroom_along(const std::filesystem::path& top, std::filesystem::path leaf, const CgroupFiles& files) {
  double best = 0;
  for (;;) {
    const auto limit = cgroup_bytes(leaf / files.limit);
    if (limit) {
      const double usage = cgroup_bytes(leaf / files.usage).value_or(0);
      const double in_use = std::max(0.0, usage - stat_bytes(leaf / "memory.stat", files.inactive_file));
      const double left = std::max(0.0, *limit - in_use);
      best = best > 0 ? std::min(best, left) : std::max(left, 1.0);  // a full cgroup still counts as a limit
    }
    if (leaf == top || !leaf.has_relative_path() || leaf.parent_path() == leaf) break;
    leaf = leaf.parent_path();
  }
  return best;
}

}  // namespace

double cgroup_headroom(const std::string& mount, const std::string& self_cgroup) {
  namespace fs = std::filesystem;
  double best = 0;
  std::istringstream lines(self_cgroup);
  for (std::string line; std::getline(lines, line);) {
    // "hierarchy-id:controllers:/path"; v2 is "0::/path"
    const auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    const fs::path relative = fs::path(path).relative_path();  // "" for the root cgroup
    auto leaf = [&relative](const fs::path& top) { return relative.empty() ? top : top / relative; };
    double here = 0;
    if (controllers.empty()) {
      here = headroom_along(mount, leaf(mount), {"memory.max", "memory.current", "inactive_file"});
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      const fs::path top = fs::path(mount) / "memory";
      // v1's total_ fields count the cgroup's descendants too, as its usage does
      here = headroom_along(top, leaf(top), {"memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"});
    }
    if (here > 0) best = best > 0 ? std::min(best, here) : here;
  }
  return best;
}

double available_host_memory() {
  double available = 0;
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    long long kib = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %lld kB", &kib) == 1) available = static_cast<double>(kib) * 1024.0;
  }
  std::ifstream self("/proc/self/cgroup");
  std::stringstream cgroup;
  cgroup << self.rdbuf();
  const double limited = cgroup_headroom("/sys/fs/cgroup", cgroup.str());
  if (limited > 0) available = available > 0 ? std::min(available, limited) : limited;
  return available;
}

MemoryEstimate estimate_for_ranks(const Config& c, int vocab_size, int64_t dataset_characters, bool cuda,
                                  int local_ranks, int world_size) {
  Config per_rank = c;
  per_rank.batch_size = std::max(1, c.batch_size / std::max(1, world_size));
  MemoryEstimate e = estimate_training_memory(per_rank, vocab_size, dataset_characters, cuda);
  if (cuda || local_ranks <= 1) return e;
  e.model_bytes *= local_ranks;
  e.activations_bytes *= local_ranks;
  e.dataset_bytes *= local_ranks;
  return e;
}

std::vector<FieldError> check_memory(const MemoryEstimate& e, double available, const std::string& where,
                                     bool resuming) {
  if (available <= 0 || e.total() <= available) return {};
  std::ostringstream msg;
  msg << "training would need about " << format_bytes(e.total()) << " (" << format_bytes(e.model_bytes)
      << " for weights and optimizer, " << format_bytes(e.activations_bytes) << " for activations";
  if (e.dataset_bytes > 0) msg << ", " << format_bytes(e.dataset_bytes) << " for the dataset";
  msg << ") but " << where << " has " << format_bytes(available) << ": ";
  // a smaller batch cannot help when the weights and their optimizer state alone do not fit
  const bool activations = e.model_bytes + e.dataset_bytes < available && e.activations_bytes >= e.model_bytes;
  const SizeDriver& driver = activations ? e.activations : e.weights;
  if (resuming) {
    msg << "free memory, or resume it on a machine with more";
  } else {
    msg << "reduce " << driver.key;
    if (!driver.growth.empty())
      msg << " (the " << (activations ? "activations" : "weights") << " grow with " << driver.growth << ")";
  }
  return {{driver.key, msg.str()}};
}

std::string format_bytes(double bytes) {
  // integer arithmetic, not printf: the app's locale would print "1,4 GiB"
  const double mib = bytes / (1024.0 * 1024.0);
  if (mib < 0.5 && bytes > 0) return std::to_string(std::max(1LL, std::llround(bytes / 1024.0))) + " KiB";
  if (mib < 1023.5) return std::to_string(std::llround(mib)) + " MiB";
  const bool tera = mib >= 1024.0 * 1024.0;
  const long long tenths = std::llround(mib / (tera ? 1024.0 * 1024.0 : 1024.0) * 10);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + (tera ? " TiB" : " GiB");
}

}  // namespace moewb
