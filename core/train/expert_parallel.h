// Expert parallelism: with N experts over W ranks (N a multiple of W), each rank holds N / W experts of every
// MoE layer and the rest of the model is replicated and data-parallel. A layer routes its own tokens, sends
// each assignment's row to the rank of its expert with all_to_all (sized by an exchange of counts), runs the
// rows that reached its experts, and sends the outputs back (GShard's dispatch and combine). The token
// exchanges use a channel of their own, so they never interleave with the gradient buckets' all-reduces.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "core/distributed/collective.h"
#include "core/model/gpt.h"
#include "core/train/optimizer.h"

namespace moewb {

// One rank's share of the experts of a model built whole (identical on every rank, e.g. after rank 0's
// weights were broadcast), and of its optimizer's moments.
class ExpertParallel {
 public:
  // Keeps this rank's experts and drops the others; opens the token channel (every rank calls it together).
  ExpertParallel(const GPT& model, TrainingOptimizer& optimizer, std::shared_ptr<Collective> group);

  int experts_per_rank() const { return experts_per_rank_; }
  // The parameters that differ per rank (expert blocks), and the others (averaged as in data parallelism).
  std::vector<torch::Tensor> sharded() const;
  std::vector<torch::Tensor> replicated() const { return replicated_; }

  // After backward: an expert's gradient holds the sum over every rank's loss; divided by W it is the gradient
  // of the mean over ranks, as one process computes it on the whole batch. An expert no token reached gets a
  // zero gradient, as its block of one whole tensor would (AdamW still decays it and moves its moments).
  void finish_gradients();

  // While alive, rank 0's model and optimizer hold every expert (to write a checkpoint of the usual format,
  // which resumes on any number of ranks); the others only send theirs. Every rank creates it together.
  class Whole {
   public:
    explicit Whole(ExpertParallel& owner);
    ~Whole();
    Whole(const Whole&) = delete;
    Whole& operator=(const Whole&) = delete;

   private:
    ExpertParallel& owner_;
  };

 private:
  struct Shard {
    torch::Tensor param;
    int64_t dim, start, length, whole;  // this rank's [start, start + length) of `whole` along dim
  };
  std::vector<torch::Tensor> with_moments(const Shard& s) const;
  static void keep_part(torch::Tensor t, const Shard& s);

  std::shared_ptr<Collective> group_;
  TrainingOptimizer& optimizer_;
  std::vector<Shard> shards_;
  std::vector<torch::Tensor> replicated_;
  int experts_per_rank_ = 0;
};

}  // namespace moewb
