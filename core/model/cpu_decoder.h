// One generated character on the CPU in fp32, written out as loops and BLAS matrix-vector products on the model's
// own weights and KV cache. A cached character at cpu-quick is about 80 LibTorch operations of a few hundred
// values each, so their dispatch, not their arithmetic, set the speed (0.23 ms per character dense, and a MoE
// layer's routing alone added a dozen more). Here the routing is decided on the host from the router's N logits,
// exactly as route() decides it, interventions included, and only the chosen experts' weights are read.
#pragma once

#include <torch/torch.h>

#include "core/model/gpt.h"

namespace moewb {

// Whether cpu_decode_one can serve this model: fp32 weights on the CPU in eval mode.
bool cpu_decode_serves(const GPTImpl& model);

// Logits (1, 1, V) for `token` at position cache.filled, whose keys and values it writes into the cache (allocated
// here on first use, laid out as GPTImpl's batched path lays them out, so the two can take turns).
torch::Tensor cpu_decode_one(GPTImpl& model, int64_t token, KVCache& cache);

}  // namespace moewb
