// Routing read from a model: the trace of one text, and an evaluation's routing statistics summed on the device.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/distributed/collective.h"
#include "core/inference/inference.h"
#include "core/model/gpt.h"

namespace moewb {

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
