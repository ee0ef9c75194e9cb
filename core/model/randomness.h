// Where a model's random draws (initialisation, dropout, router jitter) come from. A trainer installs its own
// CPU generator on the thread that builds and steps its model, so nothing else in the process - a snapshot built
// for generation, a checkpoint opened in the GUI, another trainer - can shift its trajectory by drawing from
// LibTorch's shared default generator, and nothing it draws shifts theirs. Without an installed source the
// draws come from LibTorch's defaults, as before.
//
// CUDA tensors draw from the device's default generator either way: LibTorch offers no device-independent way to
// create a second CUDA generator, and in this program only training draws on the GPU (inference is eval mode,
// sampling draws on the CPU).
#pragma once

#include <torch/torch.h>

namespace moewb {

class ScopedRandomSource {
 public:
  explicit ScopedRandomSource(at::Generator cpu);
  ~ScopedRandomSource();
  ScopedRandomSource(const ScopedRandomSource&) = delete;
  ScopedRandomSource& operator=(const ScopedRandomSource&) = delete;

 private:
  const at::Generator* previous_;
  at::Generator cpu_;
};

// The generator for a tensor on `device`: the installed CPU generator, otherwise LibTorch's default.
at::Generator generator_for(const torch::Device& device);

// Training-mode (inverted) dropout of x with probability p, drawing from generator_for(x.device()).
torch::Tensor dropout(const torch::Tensor& x, double p);

// True where a CPU tensor would draw from an installed source: fused kernels that draw from the default
// generator internally (scaled_dot_product_attention's dropout) must not be used then.
bool random_source_installed();

// Fills with N(0, std) from the current source (model initialisation).
void normal_init(const torch::Tensor& t, double std);

}  // namespace moewb
