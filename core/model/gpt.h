// The nanoGPT character-level transformer, in model.py's order: LayerNorm -> attention -> MLP -> Block -> GPT.
// Parameter names follow nanoGPT (wte, wpe, h.<i>.ln_1, attn.c_attn, mlp.c_fc, ...) so that the dense model
// exports to a PyTorch state_dict by renaming only the top-level prefix.
#pragma once

#include <torch/torch.h>

#include "core/config/config.h"
#include "core/model/moe.h"

namespace moewb {

struct LayerNormImpl : torch::nn::Module {
  LayerNormImpl(int d, bool bias);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
};
TORCH_MODULE(LayerNorm);

// Keys and values of the positions seen so far: per layer a (B, nh, block_size, hs) buffer allocated once and
// filled up to length(), so a new position costs a copy into the buffer, not a re-allocation.
struct KVCache {
  std::vector<torch::Tensor> k, v;
  int64_t filled = 0;
  int64_t length() const { return filled; }
};

struct CausalSelfAttentionImpl : torch::nn::Module {
  explicit CausalSelfAttentionImpl(const Config& c);
  // x (B, T, d). With a cache, x holds only the new positions (after `past` cached ones) and is appended.
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor* cache_k = nullptr, torch::Tensor* cache_v = nullptr,
                        int64_t past = 0);
  int n_head, n_embd, block_size;
  double dropout_p;
  torch::nn::Linear c_attn{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

struct MLPImpl : torch::nn::Module {
  explicit MLPImpl(const Config& c);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
  double dropout_p;
};
TORCH_MODULE(MLP);

struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(const Config& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& idx, std::vector<RouterOutput>* capture,
                        torch::Tensor* cache_k, torch::Tensor* cache_v, int64_t past);
  LayerNorm ln_1{nullptr}, ln_2{nullptr};
  CausalSelfAttention attn{nullptr};
  MLP mlp{nullptr};
  MoEFeedForward moe{nullptr};
};
TORCH_MODULE(Block);

struct GPTOutput {
  torch::Tensor logits;  // (B, T, V)
  torch::Tensor loss;    // cross-entropy + router auxiliary losses; undefined without targets
  torch::Tensor ce;      // cross-entropy alone
};

struct GPTImpl : torch::nn::Module {
  GPTImpl(const Config& c, int vocab_size);
  // idx (B, T) int64 with T <= block_size; targets (B, T) or undefined.
  GPTOutput forward(const torch::Tensor& idx, const torch::Tensor& targets = {},
                    std::vector<RouterOutput>* capture = nullptr);
  // Logits (B, t, V) for the t new positions idx (B, t), attending to the cache, which is extended.
  torch::Tensor forward_cached(const torch::Tensor& idx, KVCache& cache,
                               std::vector<RouterOutput>* capture = nullptr);
  int64_t parameter_count() const;

  Config config;
  int vocab_size;
  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
  std::vector<Block> h;
  LayerNorm ln_f{nullptr};

 private:
  // forward_cached for one new position of one sequence: on the CPU in fp32 without a capture, cpu_decode_one;
  // elsewhere 2-D rows, matrix-vector products and one bmm per attention.
  torch::Tensor decode_one(const torch::Tensor& idx, KVCache& cache, std::vector<RouterOutput>* capture);
  torch::Tensor run_blocks(torch::Tensor x, const torch::Tensor& idx, std::vector<RouterOutput>* capture,
                           KVCache* cache);
};
TORCH_MODULE(GPT);

// A model of `config` (the same architecture) that shares `model`'s weights (no copy) and its layers'
// interventions: changing how it routes never touches the original.
GPT share_weights(const GPT& model, const Config& config);
// Capacity limits exist for training throughput; inspection shows routing without them unless asked. A model
// that routes without capacity and shares `model`'s weights (no copy); `model` itself when it has no limit.
GPT without_capacity(const GPT& model);

// Switches every MoE layer's capacity limit on or off for the scope's lifetime (for a model one thread owns,
// e.g. the trainer's own model while it traces its probe text).
class CapacityScope {
 public:
  CapacityScope(GPT model, bool on);
  ~CapacityScope();
  CapacityScope(const CapacityScope&) = delete;
  CapacityScope& operator=(const CapacityScope&) = delete;

 private:
  GPT model_;
  std::vector<bool> saved_;
};

// The nanoGPT state_dict name of one of this model's parameters (h0.attn.c_attn.weight ->
// transformer.h.0.attn.c_attn.weight).
std::string nanogpt_key(const std::string& key);

}  // namespace moewb
