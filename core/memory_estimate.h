// What a configuration holds in memory while it trains, estimated from the config alone before anything is
// allocated: the configuration panel shows it, and a run that cannot fit is refused with the key to change
// instead of ending in an out-of-memory kill. Calibrated against measured peaks (tst_config_dataset, README):
// within 20 % of the CPU's peak resident memory above the process's own on 14 configurations, and within about
// 10 % of the CUDA allocator's peak for the paper preset (the only GPU point measured).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

namespace moewb {

struct MemoryEstimate {
  int64_t parameters = 0;
  double model_bytes = 0;        // fp32 weights, gradients and AdamW's two moments; bf16 copies under autocast
  double activations_bytes = 0;  // what one training batch keeps for the backward pass, logits included
  double dataset_bytes = 0;      // the corpus as text, token ids and the two split tensors
  double total() const { return model_bytes + activations_bytes + dataset_bytes; }
};

// cuda: the device's fused attention keeps no score matrices and autocast defaults to bf16.
MemoryEstimate estimate_training_memory(const Config& c, int vocab_size, int64_t dataset_characters, bool cuda);

// MemAvailable from /proc/meminfo in bytes, or 0 where it cannot be read.
double available_host_memory();

// Empty when the estimate fits in `available` bytes (0: unknown, always fits); otherwise one error on the key
// whose reduction helps most (batch_size when activations dominate, n_layer when the weights do or do not fit
// on their own).
std::vector<FieldError> check_memory(const MemoryEstimate& e, double available, const std::string& where);

std::string format_bytes(double bytes);  // "812 MiB", "1.4 GiB"

}  // namespace moewb
