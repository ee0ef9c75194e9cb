// nanoGPT's optimisation step: AdamW with weight decay on matrices only, global-norm gradient clipping and, in
// fp16, dynamic loss scaling -- none of which reads a value back to the host, so a GPU never waits for the CPU.
// On CUDA with LibTorch 2.x the update is one fused kernel per parameter group (at::_fused_adamw_); elsewhere
// torch::optim::AdamW's loop. The state always lives in a torch::optim::AdamW: one checkpoint format.
#pragma once

#include <functional>
#include <memory>

#include <torch/torch.h>

#include "core/distributed/collective.h"
#include "core/model/gpt.h"
#include "core/model/precision.h"

namespace moewb {

class TrainingOptimizer {
 public:
  TrainingOptimizer(const GPT& model, const Config& c, Precision precision, const torch::Device& device);

  void set_lr(double lr);
  void zero_grad();
  // loss.backward() (scaled in fp16), then `gradients_ready` (data-parallel averaging), then unscaling and
  // clipping of the gradients.
  void backward(const torch::Tensor& loss, const std::function<void()>& gradients_ready = {});
  // The update; in fp16 a step whose gradients overflowed is skipped on the device and the scale halves.
  void step();

  void save(torch::serialize::OutputArchive& archive);
  // Creates the moments save() writes, where they do not exist yet (the fused path keeps none before its first
  // step): an expert-parallel group gathers them on every rank before rank 0 saves.
  void create_saved_state();
  // Restores the state from a checkpoint read on the CPU, onto the parameters' devices.
  void load(torch::serialize::InputArchive& archive);

  // Expert parallelism: `sharded` parameters differ per rank of `group` (each holds its own experts), so the
  // global gradient norm and an fp16 overflow are agreed over the group (one small all-reduce each).
  void set_sharded(std::vector<torch::Tensor> sharded, std::shared_ptr<Collective> group);

  bool fused() const { return fused_; }
  // exp_avg and exp_avg_sq of every parameter that has state, in parameter order.
  std::vector<torch::Tensor> moments() const;
  // exp_avg and exp_avg_sq of `p` (the state's own tensors), or none before its first step.
  std::vector<torch::Tensor> moments_of(const torch::Tensor& p) const;

 private:
  std::vector<torch::Tensor> grads() const;
  void ensure_state();

  std::unique_ptr<torch::optim::AdamW> adamw_;
  Config config_;
  Precision precision_;
  torch::Device device_;
  bool fused_ = false;
  double lr_;
  torch::Tensor step_count_;                        // fused path: optimizer steps taken, float on the device
  torch::Tensor scale_, growth_tracker_, found_inf_;  // fp16 loss scaling
  std::vector<torch::Tensor> sharded_;
  std::shared_ptr<Collective> group_;
};

}  // namespace moewb
