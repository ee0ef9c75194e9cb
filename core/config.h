// The complete description of a run: model shape, FFN/expert kind, routing and the optimisation
// schedule. One flat struct so that the JSON file, the CLI `--key=value` overrides and the GUI form all
// share the same field names; visit_fields() is the single list of those names, defaults and help texts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moewb {

struct Config {
  // ---- model (nanoGPT GPTConfig)
  int n_layer = 4;             // transformer blocks
  int n_head = 4;              // attention heads; n_embd % n_head == 0
  int n_embd = 128;            // model width d
  int block_size = 64;         // context length in characters
  double dropout = 0.0;        // dropout on attention, residual and FFN outputs
  bool bias = false;           // biases in Linear and LayerNorm (nanoGPT default off)
  // ---- feed-forward
  std::string ffn = "dense";   // dense | moe
  int n_experts = 4;           // N
  std::string expert_shape = "mlp";  // mlp (h = 4d/N) | linear (paper: d x d maps, then GELU, proj)
  // ---- routing
  std::string routing = "topk";      // softmax | topk | sigmoid | hash
  int top_k = 2;                     // k for topk
  bool renormalize = true;           // topk: renormalise the k weights to sum 1 (Mixtral)
  bool use_capacity = false;         // topk: limit each expert's assignments per batch
  double capacity_factor = 1.0;      // topk: C = ceil(cf*k*S/N) per expert when use_capacity
  std::string drop_policy = "position";  // position (first come) | probability (highest first)
  double aux_alpha = 0.0;            // load-balance loss alpha*N*sum f_i P_i (Switch)
  double z_beta = 0.0;               // router z-loss beta*mean(logsumexp(z)^2) (ST-MoE)
  double router_jitter = 0.0;        // multiplicative input noise U(1-eps, 1+eps) while training
  double sigmoid_tau = 0.5;          // sigmoid: expert active when sigma(z) > tau
  double sparsity_lambda = 0.0;      // sigmoid: lambda*mean(sigma(z)) (DSMoE)
  // ---- optimisation (nanoGPT train.py)
  int batch_size = 12;
  int max_iters = 2000;
  double learning_rate = 1e-3;
  double min_lr = 1e-4;
  int warmup_iters = 100;
  int lr_decay_iters = 2000;   // cosine decay ends here
  double weight_decay = 0.1;   // applied to matrices and embeddings only
  double beta1 = 0.9;
  double beta2 = 0.99;
  double grad_clip = 1.0;      // 0 = off
  // ---- schedule
  int eval_interval = 250;
  int eval_iters = 20;         // batches per split when estimating loss
  int log_interval = 10;
  int seed = 1337;
  std::string device = "auto";  // auto | cpu | cuda
  bool deterministic = false;   // CUDA: deterministic kernels (slower), so a seed repeats a run bit for bit
  std::string precision = "auto";  // auto (bf16 on a CUDA device that has it, else fp32) | fp32 | bf16 | fp16

  bool is_moe() const { return ffn == "moe"; }
  // experts a token is sent to by the router (N for softmax, k for topk, 1 for hash; sigmoid varies)
  int experts_per_token() const;
};

struct FieldError {
  std::string field;
  std::string message;
};

// Calls v(name, member, help) for every field, in display order.
template <typename C, typename V>
void visit_fields(C& c, V&& v) {
  v("n_layer", c.n_layer, "Number of transformer blocks.");
  v("n_head", c.n_head, "Attention heads per block; the width must divide by it.");
  v("n_embd", c.n_embd, "Model width d (embedding and residual stream size).");
  v("block_size", c.block_size, "Context length in characters (also the position-embedding size).");
  v("dropout", c.dropout, "Dropout probability on attention weights, residual and FFN outputs.");
  v("bias", c.bias, "Use biases in Linear and LayerNorm layers (nanoGPT default: off).");
  v("ffn", c.ffn, "Feed-forward kind: dense (Linear d->4d, GELU, 4d->d) or moe (mixture of experts).");
  v("n_experts", c.n_experts, "Number of experts N in each MoE layer.");
  v("expert_shape", c.expert_shape,
    "mlp: each expert is d->4d/N->d so all experts together equal the dense FFN; "
    "linear: each expert a d x d map, combined, then GELU and a d->d projection (paper section 4.2).");
  v("routing", c.routing,
    "softmax: every expert, weights softmax(z); topk: the k most probable experts; "
    "sigmoid: experts with sigma(z) > tau, straight-through gradient (DSMoE); hash: fixed expert per character.");
  v("top_k", c.top_k, "Experts per token in topk routing (k <= N).");
  v("renormalize", c.renormalize, "topk: renormalise the k chosen weights to sum to 1 (Mixtral convention).");
  v("use_capacity", c.use_capacity, "topk: limit how many assignments each expert accepts per batch.");
  v("capacity_factor", c.capacity_factor,
    "topk with capacity: each expert accepts at most C = ceil(cf*k*S/N) assignments per batch of S tokens "
    "(DeepSpeed/Megatron convention); dropped assignments contribute 0 and are not re-normalised.");
  v("drop_policy", c.drop_policy,
    "Which assignments an over-full expert keeps: position (earlier tokens first, first choices before "
    "second choices) or probability (highest router probability first).");
  v("aux_alpha", c.aux_alpha, "Load-balancing loss weight: alpha*N*sum_i f_i*P_i (Switch/Mixtral).");
  v("z_beta", c.z_beta, "Router z-loss weight: beta*mean(logsumexp(z)^2) (ST-MoE).");
  v("router_jitter", c.router_jitter, "Multiply router inputs by U(1-eps,1+eps) during training; 0 = off.");
  v("sigmoid_tau", c.sigmoid_tau, "sigmoid: an expert is active for a token when sigma(z) > tau.");
  v("sparsity_lambda", c.sparsity_lambda, "sigmoid: sparsity loss weight lambda*mean(sigma(z)) (DSMoE).");
  v("batch_size", c.batch_size, "Sequences per training step.");
  v("max_iters", c.max_iters, "Training steps.");
  v("learning_rate", c.learning_rate, "Peak AdamW learning rate after warm-up.");
  v("min_lr", c.min_lr, "Learning rate at the end of the cosine decay.");
  v("warmup_iters", c.warmup_iters, "Linear warm-up steps.");
  v("lr_decay_iters", c.lr_decay_iters, "Step at which the cosine decay reaches min_lr.");
  v("weight_decay", c.weight_decay, "AdamW weight decay on matrices and embeddings (not on biases/norms).");
  v("beta1", c.beta1, "AdamW beta1.");
  v("beta2", c.beta2, "AdamW beta2.");
  v("grad_clip", c.grad_clip, "Clip the global gradient norm to this value; 0 = off.");
  v("eval_interval", c.eval_interval, "Evaluate (val loss, routing metrics, snapshot) every this many steps.");
  v("eval_iters", c.eval_iters, "Batches per split when estimating train/val loss.");
  v("log_interval", c.log_interval, "Write a metrics row every this many steps.");
  v("seed", c.seed, "Random seed: same seed and config give the same run on CPU.");
  v("device", c.device, "auto (CUDA when available), cpu or cuda.");
  v("deterministic", c.deterministic,
    "CUDA: use deterministic kernels (embedding and attention gradients without atomics, fixed cuBLAS "
    "workspaces) so the same seed repeats a run bit for bit; slower. The CPU is always deterministic.");
  v("precision", c.precision,
    "auto: bf16 on a CUDA device that supports it, fp32 otherwise; fp32; bf16 (autocast, TF32 matmuls); "
    "fp16 (autocast with loss scaling, CUDA only). Router probabilities and routing statistics stay fp32.");
}

// Field-by-field checks that need no dataset. Empty when valid.
std::vector<FieldError> validate(const Config& c);
// Adds the checks against a dataset's split sizes (context must fit in the validation split).
std::vector<FieldError> validate(const Config& c, long long train_tokens, long long val_tokens);

std::string to_json(const Config& c);
// Parses a JSON object over `base`; unknown keys and wrongly typed values become errors.
Config config_from_json(const std::string& text, const Config& base, std::vector<FieldError>& errors);
// Applies one "key=value" style override; returns an error message or "".
std::string apply_override(Config& c, const std::string& key, const std::string& value);

// Parameters of the model (all, counting the tied embedding once), and those one token uses: shared weights
// plus its experts' share (k/N of the expert weights; for sigmoid routing this is the upper bound N/N).
int64_t count_parameters(const Config& c, int vocab_size);
int64_t count_active_parameters(const Config& c, int vocab_size);

std::vector<std::string> preset_names();
// Throws std::invalid_argument for an unknown preset.
Config preset(const std::string& name);

std::string describe(const std::vector<FieldError>& errors);

}  // namespace moewb
