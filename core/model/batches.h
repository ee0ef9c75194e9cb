// What the model reads: a dataset's tokens as a tensor on the device, and nanoGPT's random batches of windows.
#pragma once

#include <random>

#include <torch/torch.h>

#include "core/data/text_dataset.h"

namespace moewb {

// nanoGPT get_batch: `batch` random windows of the split (already on the device); targets shifted by one.
// The window starts come from `rng` on the host and travel in one pinned, non-blocking copy, so a GPU
// step never waits for the CPU to gather tokens.
struct Batch {
  torch::Tensor x, y;  // (B, T) int64 on the split's device
};
// Tokens [begin, end) of a dataset as the int64 tensor the model indexes with, converted in one copy.
torch::Tensor token_split(const TextDataset& data, int64_t begin, int64_t end);

// In data-parallel training every rank draws the same `batch` starts and keeps its slice: rows
// [shard * batch / shards, (shard + 1) * batch / shards), so ranks together see what one process would.
Batch sample_batch(const torch::Tensor& split, int batch, int block, std::mt19937_64& rng, int shard = 0,
                   int shards = 1);

}  // namespace moewb
