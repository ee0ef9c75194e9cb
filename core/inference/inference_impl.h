// What an InferenceModel holds: for the code that builds one (a trainer's snapshot, a loaded checkpoint, surgery) and
// the tests. Never included by ui/.
#pragma once

#include <torch/torch.h>

#include "core/inference/inference.h"
#include "core/model/gpt.h"
#include "core/model/precision.h"

namespace moewb {

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

}  // namespace moewb
