#include "core/model/batches.h"

namespace moewb {

torch::Tensor token_split(const TextDataset& data, int64_t begin, int64_t end) {
  // from_blob only views the ids (it never writes them); to() makes the int64 copy
  return torch::from_blob(const_cast<int32_t*>(data.tokens.data()) + begin, {end - begin}, torch::kInt32)
      .to(torch::kInt64);
}

Batch sample_batch(const torch::Tensor& split, int batch, int block, std::mt19937_64& rng, int shard, int shards) {
  std::uniform_int_distribution<int64_t> pick(0, split.size(0) - block - 1);
  const int first = shard * batch / shards, last = (shard + 1) * batch / shards;
  auto starts =
      torch::empty({last - first}, torch::TensorOptions().dtype(torch::kInt64).pinned_memory(split.is_cuda()));
  int64_t* start = starts.data_ptr<int64_t>();
  for (int i = 0; i < batch; ++i) {
    const int64_t s = pick(rng);  // drawn on every rank, so the generator stays the same everywhere
    if (i >= first && i < last) start[i - first] = s;
  }
  const auto offsets = starts.to(split.device(), /*non_blocking=*/true).unsqueeze(1) +
                       torch::arange(block, split.options()).unsqueeze(0);  // (B, T)
  return {split.index({offsets}), split.index({offsets + 1})};
}

}  // namespace moewb
