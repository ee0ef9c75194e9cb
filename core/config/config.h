// The complete description of a run: model shape, FFN/expert kind, routing and the optimisation
// schedule. One flat struct so that the JSON file, the CLI `--key=value` overrides and the GUI form all
// share the same field names; visit_fields() is the single table of those names, their labels, groups,
// ranges, choices and help texts.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moewb {

// Keys with a fixed set of values are enums inside the program and their names in files, on the command line,
// in the form and in routing traces. EnumNames<E>::names lists the names in declaration order.
enum class Ffn { dense, moe };
enum class ExpertShape { mlp, linear };  // mlp: h = 4d/N each | linear: d x d maps, then GELU and a projection
enum class RoutingMode { softmax, topk, sigmoid, hash };
enum class DropPolicy { position, probability };  // which assignments an over-full expert keeps
// What the user asks to run on; the program resolves "auto" on the machine at hand (pick_device, resolve_precision).
enum class DeviceChoice { automatic, cpu, cuda };
enum class PrecisionChoice { automatic, fp32, bf16, fp16 };

template <typename E>
struct EnumNames;
template <>
struct EnumNames<Ffn> { static constexpr std::array<const char*, 2> names{"dense", "moe"}; };
template <>
struct EnumNames<ExpertShape> { static constexpr std::array<const char*, 2> names{"mlp", "linear"}; };
template <>
struct EnumNames<RoutingMode> {
  static constexpr std::array<const char*, 4> names{"softmax", "topk", "sigmoid", "hash"};
};
template <>
struct EnumNames<DropPolicy> { static constexpr std::array<const char*, 2> names{"position", "probability"}; };
template <>
struct EnumNames<DeviceChoice> { static constexpr std::array<const char*, 3> names{"auto", "cpu", "cuda"}; };
template <>
struct EnumNames<PrecisionChoice> {
  static constexpr std::array<const char*, 4> names{"auto", "fp32", "bf16", "fp16"};
};

template <typename T, typename = void>
constexpr bool is_named_enum = false;
template <typename T>
constexpr bool is_named_enum<T, std::void_t<decltype(EnumNames<T>::names)>> = true;

template <typename E>
std::string name_of(E e) { return EnumNames<E>::names[static_cast<size_t>(e)]; }
template <typename E>
std::optional<E> enum_from_name(std::string_view name) {
  for (size_t i = 0; i < EnumNames<E>::names.size(); ++i)
    if (name == EnumNames<E>::names[i]) return static_cast<E>(i);
  return std::nullopt;
}

// The router's keys: how a MoE layer chooses experts and what its auxiliary losses weigh. One group, so the MoE
// layer (RoutingOptions) and surgery (an upcycled model takes the router it is asked for) take it whole.
struct RouterSettings {
  RoutingMode routing = RoutingMode::topk;
  int top_k = 2;                     // k for topk
  bool renormalize = true;           // topk: renormalise the k weights to sum 1 (Mixtral)
  bool use_capacity = false;         // topk: limit each expert's assignments per batch
  double capacity_factor = 1.0;      // topk: C = ceil(cf*k*S/N) per expert when use_capacity
  DropPolicy drop_policy = DropPolicy::position;
  double aux_alpha = 0.0;            // load-balance loss alpha*N*sum f_i P_i (Switch)
  double z_beta = 0.0;               // router z-loss beta*mean(logsumexp(z)^2) (ST-MoE)
  double router_jitter = 0.0;        // multiplicative input noise U(1-eps, 1+eps) while training
  double sigmoid_tau = 0.5;          // sigmoid: expert active when sigma(z) > tau
  double sparsity_lambda = 0.0;      // sigmoid: lambda*mean(sigma(z)) (DSMoE)
};

struct Config : RouterSettings {
  // ---- model (nanoGPT GPTConfig)
  int n_layer = 4;             // transformer blocks
  int n_head = 4;              // attention heads; n_embd % n_head == 0
  int n_embd = 128;            // model width d
  int block_size = 64;         // context length in characters
  double dropout = 0.0;        // dropout on attention, residual and FFN outputs
  bool bias = false;           // biases in Linear and LayerNorm (nanoGPT default off)
  // ---- feed-forward
  Ffn ffn = Ffn::dense;
  int n_experts = 4;           // N
  ExpertShape expert_shape = ExpertShape::mlp;
  int expert_hidden = 0;       // mlp experts: hidden units each; 0 = 4d/N (together the dense FFN's 4d)
  // ---- routing: RouterSettings
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
  DeviceChoice device = DeviceChoice::automatic;
  bool deterministic = false;   // CUDA: deterministic kernels (slower), so a seed repeats a run bit for bit
  PrecisionChoice precision = PrecisionChoice::automatic;  // auto: bf16 on a CUDA device that has it, else fp32

  bool is_moe() const { return ffn == Ffn::moe; }
  // experts a token is sent to by the router (N for softmax, k for topk, 1 for hash; sigmoid varies)
  int experts_per_token() const;
  // hidden units of one mlp expert: expert_hidden, or 4d/N when it is 0
  int expert_hidden_units() const {
    return expert_hidden > 0 ? expert_hidden : n_experts > 0 ? 4 * n_embd / n_experts : 0;
  }
};

struct FieldError {
  std::string field;
  std::string message;
};

// One key's description besides its name, type and default (the member's initialiser): the form's label and
// group, the values it may take, and its help. Validation, the GUI form, the CLI and core/README.md's key table
// (`moewb-cli keys`) all read it from visit_fields; only rules that tie keys together are written elsewhere.
struct Range {
  double min = -1e300, max = 1e300;
  bool min_open = false, max_open = false;  // open: the bound itself is excluded
  static Range at_least(double m) { return {m, 1e300, false, false}; }
  static Range above_zero(double max = 1e300) { return {0, max, true, false}; }
  static Range between(double a, double b) { return {a, b, false, false}; }
  static Range unit_open() { return {0, 1, false, true}; }  // [0, 1)
  static Range open_unit() { return {0, 1, true, true}; }   // (0, 1)
  bool contains(double v) const {
    return (min_open ? v > min : v >= min) && (max_open ? v < max : v <= max);
  }
  std::string describe(bool integer) const;  // "at least 1", "in [0, 1)", "> 0"
};

struct FieldSpec {
  const char* label;
  const char* group;
  Range range;                         // numbers
  std::vector<std::string> choices;    // text keys: the values allowed, in display order (enums: their names)
  const char* help;
  // Whether the key matters for a config (null: always). One that does not keeps its value and changes nothing:
  // the form disables its editor, and validation refuses a value other than the default where one would mislead.
  bool (*applies)(const Config&) = nullptr;
};

// When the keys of the FFN and the router apply.
namespace applies_when {
inline bool moe(const Config& c) { return c.is_moe(); }
inline bool mlp_experts(const Config& c) { return c.is_moe() && c.expert_shape == ExpertShape::mlp; }
inline bool topk(const Config& c) { return c.is_moe() && c.routing == RoutingMode::topk; }
inline bool capacity(const Config& c) { return topk(c) && c.use_capacity; }
inline bool learned_router(const Config& c) { return c.is_moe() && c.routing != RoutingMode::hash; }
inline bool sigmoid(const Config& c) { return c.is_moe() && c.routing == RoutingMode::sigmoid; }
}  // namespace applies_when

// The values a text key may take: an enum's names, or the spec's choices.
template <typename T>
std::vector<std::string> allowed_names(const FieldSpec& spec) {
  if constexpr (is_named_enum<T>) return {EnumNames<T>::names.begin(), EnumNames<T>::names.end()};
  else return spec.choices;
}

inline constexpr const char* kModel = "Model";
inline constexpr const char* kExperts = "FFN / experts";
inline constexpr const char* kRouting = "Routing";
inline constexpr const char* kOptimisation = "Optimisation";
inline constexpr const char* kSchedule = "Schedule";

// Calls v(name, member, spec) for every field, in display order.
template <typename C, typename V>
void visit_fields(C& c, V&& v) {
  v("n_layer", c.n_layer, FieldSpec{"Layers", kModel, Range::at_least(1), {},
      "Number of transformer blocks."});
  v("n_head", c.n_head, FieldSpec{"Heads", kModel, Range::at_least(1), {},
      "Attention heads per block; the width must divide by it."});
  v("n_embd", c.n_embd, FieldSpec{"Width d", kModel, Range::at_least(1), {},
      "Model width d (embedding and residual stream size)."});
  v("block_size", c.block_size, FieldSpec{"Context", kModel, Range::at_least(2), {},
      "Context length in characters (also the position-embedding size)."});
  v("dropout", c.dropout, FieldSpec{"Dropout", kModel, Range::unit_open(), {},
      "Dropout probability on attention weights, residual and FFN outputs."});
  v("bias", c.bias, FieldSpec{"Biases", kModel, {}, {},
      "Use biases in Linear and LayerNorm layers (nanoGPT default: off)."});
  v("ffn", c.ffn, FieldSpec{"FFN kind", kExperts, {}, {},
      "Feed-forward kind: dense (Linear d->4d, GELU, 4d->d) or moe (mixture of experts)."});
  v("n_experts", c.n_experts, FieldSpec{"Experts N", kExperts, Range::between(1, 256), {},
      "Number of experts N in each MoE layer.", applies_when::moe});
  v("expert_shape", c.expert_shape, FieldSpec{"Expert shape", kExperts, {}, {},
      "mlp: each expert is d->4d/N->d so all experts together equal the dense FFN; "
      "linear: each expert a d x d map, combined, then GELU and a d->d projection (paper section 4.2).", applies_when::moe});
  v("expert_hidden", c.expert_hidden, FieldSpec{"Expert hidden units", kExperts, Range::at_least(0), {},
      "mlp experts: hidden units of each expert; 0 = 4d/N, so all experts together have the dense FFN's 4d. "
      "Pruning keeps the pruned model's width; sparse upcycling copies the whole dense FFN (4d) into each expert.",
      applies_when::mlp_experts});
  v("routing", c.routing, FieldSpec{"Routing", kRouting, {}, {},
      "softmax: every expert, weights softmax(z); topk: the k most probable experts; "
      "sigmoid: experts with sigma(z) > tau, straight-through gradient (DSMoE); hash: fixed expert per character.",
      applies_when::moe});
  v("top_k", c.top_k, FieldSpec{"Top-k", kRouting, Range::at_least(1), {},
      "Experts per token in topk routing (k <= N).", applies_when::topk});
  v("renormalize", c.renormalize, FieldSpec{"Renormalise top-k", kRouting, {}, {},
      "topk: renormalise the k chosen weights to sum to 1 (Mixtral convention).", applies_when::topk});
  v("use_capacity", c.use_capacity, FieldSpec{"Capacity limit", kRouting, {}, {},
      "topk: limit how many assignments each expert accepts per batch.", applies_when::topk});
  v("capacity_factor", c.capacity_factor, FieldSpec{"Capacity factor", kRouting, Range::above_zero(1e6), {},
      "topk with capacity: each expert accepts at most C = ceil(cf*k*S/N) assignments per batch of S tokens "
      "(DeepSpeed/Megatron convention); dropped assignments contribute 0 and are not re-normalised.",
      applies_when::capacity});
  v("drop_policy", c.drop_policy, FieldSpec{"Drop policy", kRouting, {}, {},
      "Which assignments an over-full expert keeps: position (earlier tokens first, first choices before "
      "second choices) or probability (highest router probability first).", applies_when::capacity});
  v("aux_alpha", c.aux_alpha, FieldSpec{"Load-balance α", kRouting, Range::at_least(0), {},
      "Load-balancing loss weight: alpha*N*sum_i f_i*P_i (Switch/Mixtral).", applies_when::learned_router});
  v("z_beta", c.z_beta, FieldSpec{"Z-loss β", kRouting, Range::at_least(0), {},
      "Router z-loss weight: beta*mean(logsumexp(z)^2) (ST-MoE).", applies_when::learned_router});
  v("router_jitter", c.router_jitter, FieldSpec{"Router jitter ε", kRouting, Range::unit_open(), {},
      "Multiply router inputs by U(1-eps,1+eps) during training; 0 = off.", applies_when::learned_router});
  v("sigmoid_tau", c.sigmoid_tau, FieldSpec{"Sigmoid threshold τ", kRouting, Range::open_unit(), {},
      "sigmoid: an expert is active for a token when sigma(z) > tau.", applies_when::sigmoid});
  v("sparsity_lambda", c.sparsity_lambda, FieldSpec{"Sparsity λ", kRouting, Range::at_least(0), {},
      "sigmoid: sparsity loss weight lambda*mean(sigma(z)) (DSMoE).", applies_when::sigmoid});
  v("batch_size", c.batch_size, FieldSpec{"Batch size", kOptimisation, Range::at_least(1), {},
      "Sequences per training step."});
  v("max_iters", c.max_iters, FieldSpec{"Iterations", kSchedule, Range::at_least(1), {},
      "Training steps."});
  v("learning_rate", c.learning_rate, FieldSpec{"Learning rate", kOptimisation, Range::above_zero(), {},
      "Peak AdamW learning rate after warm-up."});
  v("min_lr", c.min_lr, FieldSpec{"Final learning rate", kOptimisation, Range::at_least(0), {},
      "Learning rate at the end of the cosine decay."});
  v("warmup_iters", c.warmup_iters, FieldSpec{"Warm-up steps", kSchedule, Range::at_least(0), {},
      "Linear warm-up steps."});
  v("lr_decay_iters", c.lr_decay_iters, FieldSpec{"Decay ends at", kSchedule, Range::at_least(0), {},
      "Step at which the cosine decay reaches min_lr."});
  v("weight_decay", c.weight_decay, FieldSpec{"Weight decay", kOptimisation, Range::at_least(0), {},
      "AdamW weight decay on matrices and embeddings (not on biases/norms)."});
  v("beta1", c.beta1, FieldSpec{"Adam β1", kOptimisation, Range::unit_open(), {},
      "AdamW beta1."});
  v("beta2", c.beta2, FieldSpec{"Adam β2", kOptimisation, Range::unit_open(), {},
      "AdamW beta2."});
  v("grad_clip", c.grad_clip, FieldSpec{"Gradient clip", kOptimisation, Range::at_least(0), {},
      "Clip the global gradient norm to this value; 0 = off."});
  v("eval_interval", c.eval_interval, FieldSpec{"Evaluate every", kSchedule, Range::at_least(1), {},
      "Evaluate (val loss, routing metrics, snapshot) every this many steps."});
  v("eval_iters", c.eval_iters, FieldSpec{"Eval batches", kSchedule, Range::at_least(1), {},
      "Batches per split when estimating train/val loss."});
  v("log_interval", c.log_interval, FieldSpec{"Log every", kSchedule, Range::at_least(1), {},
      "Write a metrics row every this many steps."});
  v("seed", c.seed, FieldSpec{"Seed", kSchedule, Range::at_least(0), {},
      "Random seed: same seed and config give the same run on CPU."});
  v("device", c.device, FieldSpec{"Device", kSchedule, {}, {},
      "auto (CUDA when available), cpu or cuda."});
  v("deterministic", c.deterministic, FieldSpec{"Deterministic", kSchedule, {}, {},
      "CUDA: use deterministic kernels (embedding and attention gradients without atomics, fixed cuBLAS "
      "workspaces) so the same seed repeats a run bit for bit; slower. The CPU is always deterministic."});
  v("precision", c.precision, FieldSpec{"Precision", kSchedule, {}, {},
      "auto: bf16 on a CUDA device that supports it, fp32 otherwise; fp32; bf16 (autocast, TF32 matmuls); "
      "fp16 (autocast with loss scaling, CUDA only). Router probabilities and routing statistics stay fp32."});
}

// Whether `key` matters for `c` (FieldSpec::applies); an unknown key applies.
bool key_applies(const Config& c, const std::string& key);

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

// The table of keys as Markdown (key, type, default, allowed values, group, help): `moewb-cli keys` prints it
// and core/README.md carries it (a test keeps the two equal).
std::string config_keys_markdown();

std::vector<std::string> preset_names();
// Throws std::invalid_argument for an unknown preset.
Config preset(const std::string& name);

std::string describe(const std::vector<FieldError>& errors);

}  // namespace moewb
