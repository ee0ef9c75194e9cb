#include "memory_estimate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace moewb {

namespace {
// Values saved per token and layer for the backward pass, in units of the width d (counted from the ops in
// gpt.cpp and moe.cpp, then scaled to the measured peaks, which include the allocator's slack).
constexpr double kAttention = 10;      // layer-norm in/out, q k v, their head-major copies, output, projection
constexpr double kResidual = 2;
constexpr double kDenseMlp = 11;       // layer-norm, 4d pre- and post-GELU, projection
constexpr double kMlpExpertSlot = 15;  // per assignment: gathered row, its hidden units, output, sort and combine
constexpr double kLinearExpertSlot = 3;
constexpr double kDropoutMasks = 3;    // embedding, attention output and feed-forward output masks
constexpr double kScoreCopies = 3;     // explicit attention: scores, masked, softmax (per head and key)
constexpr double kLogitCopies = 3;     // logits, log-softmax and their gradient
constexpr double kDatasetBytesPerCharacter = 24;
constexpr double kBytesPerParameter = 16;  // weight, gradient, AdamW exp_avg and exp_avg_sq in fp32

double feed_forward_units(const Config& c) {
  if (!c.is_moe()) return kDenseMlp;
  const double slots = c.routing == RoutingMode::hash ? 1 : c.routing == RoutingMode::sigmoid ? c.n_experts : c.top_k;
  if (c.expert_shape == ExpertShape::linear)
    return 8 + kLinearExpertSlot * (c.routing == RoutingMode::softmax ? c.n_experts : slots);
  // softmax runs as one dense pass over all experts; experts wider than 4d/N (upcycled copies) keep more
  const double width = std::max(1.0, static_cast<double>(c.expert_hidden_units()) * c.n_experts / (4.0 * c.n_embd));
  return width * (c.routing == RoutingMode::softmax ? kDenseMlp + 7 : kDenseMlp + kMlpExpertSlot * slots);
}
}  // namespace

MemoryEstimate estimate_training_memory(const Config& c, int vocab_size, int64_t dataset_characters, bool cuda) {
  MemoryEstimate e;
  const bool half = c.precision == "bf16" || c.precision == "fp16" || (c.precision == "auto" && cuda);
  e.parameters = count_parameters(c, vocab_size);
  e.model_bytes = static_cast<double>(e.parameters) * (kBytesPerParameter + (half ? 2 : 0));
  const double d = c.n_embd, tokens = static_cast<double>(c.batch_size) * c.block_size;
  double units = kAttention + kResidual + feed_forward_units(c) + (c.dropout > 0 ? kDropoutMasks : 0);
  double per_layer = units * d;
  if (!cuda) per_layer += kScoreCopies * c.n_head * c.block_size;  // CUDA's fused attention saves none
  // autocast keeps layer norms and the softmax in fp32; 1.7 matches the paper preset's 1.7 GB allocator peak
  // on an H100 (dense, bf16, one measured point)
  const double bytes_per_value = half ? 1.7 : 4;
  e.activations_bytes = tokens * (c.n_layer * per_layer * bytes_per_value + kLogitCopies * vocab_size * 4.0);
  e.dataset_bytes = static_cast<double>(dataset_characters) * kDatasetBytesPerCharacter;
  return e;
}

double available_host_memory() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    long long kib = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %lld kB", &kib) == 1) return static_cast<double>(kib) * 1024.0;
  }
  return 0;
}

std::vector<FieldError> check_memory(const MemoryEstimate& e, double available, const std::string& where) {
  if (available <= 0 || e.total() <= available) return {};
  std::ostringstream msg;
  msg << "training would need about " << format_bytes(e.total()) << " (" << format_bytes(e.model_bytes)
      << " for weights and optimizer, " << format_bytes(e.activations_bytes) << " for activations";
  if (e.dataset_bytes > 0) msg << ", " << format_bytes(e.dataset_bytes) << " for the dataset";
  msg << ") but " << where << " has " << format_bytes(available) << ": ";
  // a smaller batch cannot help when the weights and their optimizer state alone do not fit
  if (e.model_bytes + e.dataset_bytes < available && e.activations_bytes >= e.model_bytes) {
    msg << "reduce batch_size (or block_size, n_layer)";
    return {{"batch_size", msg.str()}};
  }
  msg << "reduce n_layer or n_embd";
  return {{"n_layer", msg.str()}};
}

std::string format_bytes(double bytes) {
  // integer arithmetic, not printf: the app's locale would print "1,4 GiB"
  const double mib = bytes / (1024.0 * 1024.0);
  if (mib < 1023.5) return std::to_string(std::llround(mib)) + " MiB";
  const bool tera = mib >= 1024.0 * 1024.0;
  const long long tenths = std::llround(mib / (tera ? 1024.0 * 1024.0 : 1024.0) * 10);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + (tera ? " TiB" : " GiB");
}

}  // namespace moewb
