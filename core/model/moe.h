// Mixture-of-experts feed-forward layer and its routers. Routing is a set of pure tensor
// functions (easy to test on hand-made logits); MoEFeedForward owns the router and the experts and does the
// vectorised dispatch: sort the assignments by expert, run each expert once on its rows (one grouped GEMM on
// CUDA), put the rows back by the inverse permutation and sum each token's slots. On the CPU in fp32/fp64 the
// same dispatch runs as one autograd function with a hand-written backward (grouped_experts.h).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

#include "core/config/config.h"

namespace moewb {

class Collective;

struct RouterOutput {
  torch::Tensor probs;    // (S, N) softmax probabilities; sigmoid gates; one-hot for hash
  torch::Tensor experts;  // (S, K) int64 expert of each slot
  torch::Tensor weights;  // (S, K) combine weight, 0 for dropped or inactive slots
  torch::Tensor kept;     // (S, K) bool: the expert processes this token
  torch::Tensor dropped;  // (S, K) bool: capacity refused the assignment
  torch::Tensor aux_loss; // scalar: alpha, beta and lambda terms that apply
  torch::Tensor logits;   // (S, N) raw router logits (undefined for hash)
};

// What a layer's router works with: the config's router keys, the number of experts, and the interventions.
struct RoutingOptions : RouterSettings {
  int n_experts = 4;
  // Interventions for inspection (never set in training): an expert removed from the routing, renormalised as
  // the mode does (softmax over the rest; top-k picks among the rest; sigmoid closes its gate; hash leaves its
  // tokens without an expert), or every token sent to one expert with weight 1. -1: none.
  int disabled_expert = -1, forced_expert = -1;
  static RoutingOptions of(const Config& c);
};

// How many of `experts` (any shape, values in [0, bins)) name each bin, as int64 -- without the host read
// that torch::bincount and one_hot make on CUDA, and without float atomics.
torch::Tensor count_per_expert(const torch::Tensor& experts, int64_t bins);

// C = ceil(cf * k * S / N): assignments each expert accepts in a batch of S tokens.
int64_t expert_capacity(double capacity_factor, int top_k, int64_t tokens, int n_experts);

// kept (S, K) bool for assignments `experts` (S, K); the priority within an expert is token order with all
// first choices before second choices ("position") or descending `priority` ("probability"). CPU tensors are
// decided by one pass on the host (a dozen tensor operations cost 0.15 ms per layer at cpu-quick); the tensor
// formulation, which keeps a GPU's work on the GPU, serves the rest.
torch::Tensor capacity_keep(const torch::Tensor& experts, const torch::Tensor& priority, int n_experts,
                            int64_t capacity, DropPolicy policy);
torch::Tensor capacity_keep_on_host(const torch::Tensor& experts, const torch::Tensor& priority, int n_experts,
                                    int64_t capacity, DropPolicy policy);
torch::Tensor capacity_keep_as_tensors(const torch::Tensor& experts, const torch::Tensor& priority, int n_experts,
                                       int64_t capacity, DropPolicy policy);

// sigma(z) masked by sigma(z) > tau in the forward pass; the backward pass treats the mask as identity
// (straight-through), so d gate / d sigma = mask + sigma.
torch::Tensor straight_through_gate(const torch::Tensor& gates, double tau);

// The fixed expert of each token id for hash routing (multiplicative hash, then mod N); one id on the host.
torch::Tensor hash_experts(const torch::Tensor& token_ids, int n_experts);
int64_t hash_expert(int64_t token_id, int n_experts);

// logits (S, N) are ignored in hash mode (may be undefined); token_ids (S) are used only there.
RouterOutput route(const torch::Tensor& logits, const torch::Tensor& token_ids, const RoutingOptions& opt);

// F::linear for x (rows, in) and weight (out, in); a single row (batch-1 generation) goes through BLAS gemv,
// several times faster than a one-row gemm.
torch::Tensor row_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

// ---------------------------------------------------------------------------------------------------
struct MoEFeedForwardImpl : torch::nn::Module {
  MoEFeedForwardImpl(const Config& c, int n_layer_for_init);

  // x (B, T, d), token_ids (B, T) -> (B, T, d). Appends this layer's routing (with its auxiliary loss) to
  // `capture` when given; the layer keeps no per-call state, so an eval-mode model can serve several threads.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& token_ids,
                        std::vector<RouterOutput>* capture = nullptr);

  // Expert e (of those held here: local index) on rows x, through its slice of the shared weights: a plain
  // view, never a copy.
  torch::Tensor expert_output(const torch::Tensor& x, int64_t e);

  // The parameters that hold one block per expert, each with the dimension along which the blocks lie.
  std::vector<std::pair<torch::Tensor, int64_t>> expert_blocks();

  RoutingOptions routing;
  ExpertShape shape;
  int n_experts, hidden;
  double jitter, dropout_p;
  torch::nn::Linear router{nullptr};
  // mlp: c_fc (4d, d) and c_proj (d, 4d) exactly as the dense FFN; expert e owns hidden units [e*h, (e+1)*h).
  // linear: c_fc (N*d, d) holds the N d x d maps; c_proj (d, d) follows GELU.
  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
  // Expert parallelism (expert_parallel.h): this rank holds experts [first_local, first_local + n_local) and
  // tokens travel to their expert's rank over `expert_group`. Without a group every expert is here.
  std::shared_ptr<Collective> expert_group;
  int first_local = 0, n_local = 0;

 private:
  // The S*K assignments' experts with refused ones under the sentinel N (key), and the order that sorts them
  // by expert (stable: slot order within an expert; refused last).
  std::pair<torch::Tensor, torch::Tensor> by_expert(const RouterOutput& r) const;
  torch::Tensor dispatch(const torch::Tensor& x, const RouterOutput& r);
  // dispatch with the experts spread over the ranks: each assignment's row goes to its expert's rank and back.
  torch::Tensor dispatch_across_ranks(const torch::Tensor& x, const RouterOutput& r);
  // The same when a capacity of C rows per expert binds: every rank sends N * C slots, the empty ones zero
  // (GShard's padded dispatch), so the exchange has a fixed size and needs no count exchange.
  torch::Tensor dispatch_in_capacity_slots(const torch::Tensor& x, const RouterOutput& r, int64_t C);
  // xs (rows, d) sorted by local expert (sorted_experts, n_local = refused) -> each row through its expert;
  // refused rows 0.
  torch::Tensor run_experts(const torch::Tensor& xs, const torch::Tensor& sorted_experts, bool may_refuse);
  // One token (generation): on the CPU, walk its few slots through views of the weights; on CUDA, gather the
  // chosen experts' weights on the device (no host round trip).
  torch::Tensor decode_walk(const torch::Tensor& x, const RouterOutput& r);
  torch::Tensor decode_gathered(const torch::Tensor& x, const RouterOutput& r);
};
TORCH_MODULE(MoEFeedForward);

}  // namespace moewb
