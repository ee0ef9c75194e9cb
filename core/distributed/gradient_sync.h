// Data-parallel gradient averaging, as DistributedDataParallel does it: the parameters are packed into buckets
// of about 25 MB (in reverse order, the order backward produces their gradients), and a bucket's all-reduce
// starts as soon as its last gradient is ready, so communication overlaps the rest of the backward pass.
// Buckets start in a fixed order on every rank (collectives must match), and a parameter this rank did not use
// contributes zeros, so an expert that received no tokens here still gets the other ranks' gradient.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "core/distributed/collective.h"

namespace moewb {

class GradientSync {
 public:
  GradientSync(const std::vector<torch::Tensor>& parameters, std::shared_ptr<Collective> group,
               int64_t bucket_bytes = 25 << 20);
  ~GradientSync();

  // Before backward: gradients arriving from now on are collected.
  void arm();
  // After backward: starts the buckets still waiting, waits for all and leaves every parameter's .grad the
  // mean over ranks. Throws GroupError.
  void finish();

  int buckets() const { return static_cast<int>(buckets_.size()); }

 private:
  struct Bucket {
    torch::Tensor flat;            // the bucket's gradients, packed
    std::vector<int> members;      // parameter indices
    std::vector<int64_t> offsets;  // of each member in `flat`
    int ready = 0;
    std::unique_ptr<Collective::Pending> pending;
  };
  void on_gradient(int parameter, const torch::Tensor& grad);
  void start_ready_buckets();
  void start(Bucket& b);

  std::vector<torch::Tensor> params_;
  std::vector<unsigned> hooks_;  // removed with this object: the model may outlive it
  std::vector<int> bucket_of_;   // parameter -> bucket
  std::vector<char> seen_;       // parameter -> its gradient arrived this step
  std::vector<Bucket> buckets_;
  size_t next_to_start_ = 0;
  bool armed_ = false;
  std::shared_ptr<Collective> group_;
};

}  // namespace moewb
