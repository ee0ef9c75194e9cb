// Torch-side internals shared by training, inference, checkpoints and the benchmark. Never included by ui/.
#pragma once

#include <random>

#include <torch/torch.h>

#include "gpt.h"
#include "inference.h"
#include "text_dataset.h"

namespace moewb {

torch::Device pick_device(const std::string& requested);  // throws std::runtime_error for cuda without CUDA
std::string device_name(const torch::Device& d);

struct InferenceModel::Impl {
  Config config;
  Vocabulary vocab;
  mutable GPT model{nullptr};  // eval mode; forward keeps no state, so const use from threads is safe
  torch::Device device{torch::kCPU};
};

// nanoGPT get_batch: `batch` random windows of the split; targets shifted by one.
struct Batch {
  torch::Tensor x, y;  // (B, T) int64 on the device
};
Batch sample_batch(const torch::Tensor& split, int batch, int block, std::mt19937_64& rng, const torch::Device& d);

// Everything a checkpoint holds besides the model and optimizer tensors.
struct CheckpointMeta {
  Config config;
  Vocabulary vocab;
  int step = 0;
  int last_eval_step = -1;
  double best_val = 1e30;
  double elapsed_s = 0;
  double loss_sum = 0;       // partial log interval, so a resumed run logs what the uninterrupted one would
  int loss_count = 0;
  std::string batch_rng;     // std::mt19937_64 state as text
  torch::Tensor torch_rng;   // CPU generator state (dropout, jitter)
};

void save_checkpoint(const std::string& path, const GPT& model, const torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta);

struct LoadedCheckpoint {
  CheckpointMeta meta;
  GPT model{nullptr};
  torch::serialize::InputArchive optimizer_state;  // empty when the file has none
  bool has_optimizer = false;
};
// Throws CheckpointError with the reason (missing, truncated, not a checkpoint, version, shape mismatch).
LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device);

}  // namespace moewb

namespace moewb {

// Routing of `text` (chunks of the context length, batched); the model must be in eval mode.
RoutingTrace trace_text(GPT model, const Vocabulary& vocab, const std::string& text, const torch::Device& d);

// Adds one forward pass's routing to per-layer accumulators (resized to the number of MoE layers).
void accumulate_layer_stats(const std::vector<RouterOutput>& routing, const std::string& mode,
                            std::vector<LayerStatsAccumulator>& stats);

}  // namespace moewb
