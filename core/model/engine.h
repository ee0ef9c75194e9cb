// Torch-side internals shared by training, inference, checkpoints and the benchmark. Never included by ui/.
#pragma once

#include <random>

#include <torch/torch.h>

#include "core/base/process_memory.h"
#include "core/data/text_dataset.h"
#include "core/distributed/collective.h"
#include "core/inference/inference.h"
#include "core/model/gpt.h"
#include "core/model/precision.h"
#include "core/train/optimizer.h"

namespace moewb {

torch::Device pick_device(const std::string& requested);  // throws std::runtime_error for cuda without CUDA
std::string device_name(const torch::Device& d);

struct InferenceModel::Impl {
  Config config;
  Vocabulary vocab;
  mutable GPT model{nullptr};  // eval mode; forward keeps no state, so const use from threads is safe
  // the same weights routed without capacity limits (generation, default traces); set by InferenceModel
  mutable GPT uncapped{nullptr};
  torch::Device device{torch::kCPU};
  Precision precision = Precision::fp32;
  std::string notice;  // LoadedCheckpoint::notice of the file it came from
};

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
  torch::Tensor cuda_rng;    // CUDA generator state of a CUDA run (its dropout and jitter)
};

void save_checkpoint(const std::string& path, const GPT& model, TrainingOptimizer* optimizer,
                     const CheckpointMeta& meta);

struct LoadedCheckpoint {
  CheckpointMeta meta;
  GPT model{nullptr};
  torch::serialize::InputArchive optimizer_state;  // empty when the file has none
  bool has_optimizer = false;
  std::string notice;  // what the caller should tell the user: a file without a checksum loaded unverified
};
// Throws CheckpointError, one line naming the file, with the reason (missing, truncated, not a checkpoint, version,
// an invalid stored config, shape mismatch).
LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device);

}  // namespace moewb

namespace moewb {

// The nanoGPT state_dict name of one of this model's parameters (h0.attn.c_attn.weight ->
// transformer.h.0.attn.c_attn.weight).
std::string nanogpt_key(const std::string& key);

// Routing of `text` (InferenceModel::trace) by `model`, in eval mode; `capacity` says whether the model
// applies its capacity limit (recorded in the trace).
RoutingTrace trace_text(GPT model, const Vocabulary& vocab, const std::string& text, const torch::Device& d,
                        bool capacity, const TraceProgress& progress = {});

// Per MoE layer, running sums of an evaluation's routing statistics kept on the device and read back once at
// its end (a read per batch and layer would stall a GPU 30 times per batch).
struct LayerStatsOnDevice {
  void add(const std::vector<RouterOutput>& routing, RoutingMode mode);
  std::vector<LayerStatsAccumulator> read() const;
  // Data-parallel evaluation: every rank's sums added up (assignments and token counts summed, then shares).
  void sum_over(Collective& group);

 private:
  std::vector<torch::Tensor> sums;  // per layer: assigned (N), probability sums (N), dropped, active, entropy
  std::vector<double> token_counts;
};

}  // namespace moewb
