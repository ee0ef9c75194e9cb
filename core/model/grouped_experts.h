// The experts of one MoE layer on the CPU, forward and backward written out as one autograd function.
//
// At a CPU batch (768 tokens at cpu-quick) the generic dispatch spends more on its two dozen tensor operations
// (sort, gathers, index_copy into zeros, a multiply and a sum, and their autograd records) than on the experts'
// arithmetic. Here the routing, already in host memory, is grouped by expert in one counting pass; each expert's
// rows go through BLAS in place; the combine, its backward and the gradient's scatter back to the tokens are plain
// loops over rows; and the backward pass reuses the grouping instead of recording it. It keeps for the backward
// pass only each row's hidden pre-activation and output: less than the dense FFN it replaces keeps.
//
// It is the same permutation-based dispatch the CUDA path runs (and a CUDA kernel will fuse): rows sorted by expert,
// stable in slot order, refused assignments left out, each token's slots summed in slot order -- so the result is
// deterministic, and independent of the number of threads.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace moewb {

// Where each kept assignment's row lies once rows are grouped by expert.
struct ExpertRows {
  std::vector<int64_t> counts;  // rows per expert, in expert order
  torch::Tensor token;          // (R) int64: the token of each grouped row
  torch::Tensor row_of_slot;    // (S*K) int64: the grouped row of slot s*K+k, -1 where refused
  int64_t slots_per_token = 0;  // K

  // experts (S, K) int64 on the CPU; kept (S, K) bool, or undefined when every assignment is kept.
  static ExpertRows group(const torch::Tensor& experts, const torch::Tensor& kept, int n_experts);
  int64_t rows() const { return token.numel(); }
};

// Whether grouped_experts serves x: a CPU tensor in float or double whose matrix products are not autocast.
bool grouped_experts_serve(const torch::Tensor& x);

// sum_k weights[s, k] * expert_{e(s,k)}(x[s]) over each token's kept slots, (S, width):
//   mlp experts (w2 defined): expert e(x) = gelu(x W1_e^T + b1_e) W2_e^T, width d, where W1_e is rows
//   [e*h, (e+1)*h) of w1 (N*h, d) and W2_e columns [e*h, (e+1)*h) of w2 (d, N*h);
//   linear experts (w2 undefined): expert e(x) = x W1_e^T + b1_e, width h.
// Differentiable in x, weights, w1, b1 and w2. b1 may be undefined.
torch::Tensor grouped_experts(const torch::Tensor& x, const torch::Tensor& weights, const torch::Tensor& w1,
                              const torch::Tensor& b1, const torch::Tensor& w2, const ExpertRows& rows);

// Softmax routing, where every expert sees every token: gelu(h) with expert e's block of hidden units scaled by
// weights[s, e], for h (S, N*hh) and weights (S, N). Differentiable in h and weights; keeps only h for the backward
// pass (GELU, then a multiply, would keep gelu(h) as well: a dense FFN's hidden layer more per MoE layer).
torch::Tensor scaled_gelu(const torch::Tensor& h, const torch::Tensor& weights);

// The router's logits x W^T for x (S, d) and W (N, d): a product only N columns wide, which OpenBLAS slows down
// by threading (118 us at cpu-quick on 2 threads, 26 us on one); here the threads take blocks of rows (in the
// backward pass also blocks of W's gradient's columns), each product single-threaded. Differentiable in x and W.
torch::Tensor router_logits(const torch::Tensor& x, const torch::Tensor& w);

}  // namespace moewb
