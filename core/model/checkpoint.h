// A model on disk: its weights, config, vocabulary and the training state a resume needs (step, RNG states, the
// optimizer's tensors as an opaque archive), in a checksummed frame. Training writes it; training, inference and
// surgery load it.
#pragma once

#include <functional>
#include <string>

#include <torch/torch.h>

#include "core/config/config.h"
#include "core/data/text_dataset.h"
#include "core/model/gpt.h"
#include "core/runs/run_folder.h"

namespace moewb {

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

// Writes atomically, in a checksummed frame. `optimizer_state` writes the optimizer's tensors into the archive it is
// given (empty: a checkpoint without them, as a derived run's step 0).
using OptimizerState = std::function<void(torch::serialize::OutputArchive&)>;
void save_checkpoint(const std::string& path, const GPT& model, const OptimizerState& optimizer_state,
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
