// Config (de)serialisation and validation; no torch here so the GUI form can validate as the user types.
#include "config.h"

#include <climits>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace moewb {

const std::vector<std::pair<std::string, std::string>>& builtin_presets();

int Config::experts_per_token() const {
  if (!is_moe()) return 0;
  if (routing == "softmax") return n_experts;
  if (routing == "hash") return 1;
  if (routing == "sigmoid") return n_experts;  // an upper bound; the actual count is data dependent
  return top_k;
}

namespace {

bool one_of(const std::string& v, std::initializer_list<const char*> options) {
  for (const char* o : options)
    if (v == o) return true;
  return false;
}

template <typename T>
bool assign_json(T& member, const nlohmann::json& value) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) return false;
    member = value.get<bool>();
  } else if constexpr (std::is_same_v<T, int>) {
    // 4294967297 must not wrap to 1: an integer outside int is a type error, not a different value
    if (!value.is_number_integer()) return false;
    if (value.is_number_unsigned() ? value.get<uint64_t>() > static_cast<uint64_t>(INT_MAX)
                                   : value.get<int64_t>() < INT_MIN || value.get<int64_t>() > INT_MAX)
      return false;
    member = value.get<int>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!value.is_number() || !std::isfinite(value.get<double>())) return false;
    member = value.get<double>();
  } else {
    if (!value.is_string()) return false;
    member = value.get<std::string>();
  }
  return true;
}

template <typename T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_same_v<T, int>) return "an integer between -2147483648 and 2147483647";
  else if constexpr (std::is_same_v<T, double>) return "a finite number";
  else return "a string";
}

}  // namespace

std::vector<FieldError> validate(const Config& c) {
  std::vector<FieldError> e;
  auto check = [&](bool ok, const char* field, const std::string& msg) {
    if (!ok) e.push_back({field, msg});
  };
  check(c.n_layer >= 1, "n_layer", "must be at least 1");
  check(c.n_head >= 1, "n_head", "must be at least 1");
  check(c.n_embd >= 1, "n_embd", "must be at least 1");
  if (c.n_head >= 1 && c.n_embd >= 1)
    check(c.n_embd % c.n_head == 0, "n_embd",
          "width d = " + std::to_string(c.n_embd) + " is not divisible by n_head = " + std::to_string(c.n_head));
  check(c.block_size >= 2, "block_size", "context must be at least 2 characters");
  check(c.dropout >= 0 && c.dropout < 1, "dropout", "must be in [0, 1)");
  check(one_of(c.ffn, {"dense", "moe"}), "ffn", "must be dense or moe, not '" + c.ffn + "'");
  check(one_of(c.expert_shape, {"mlp", "linear"}), "expert_shape",
        "must be mlp or linear, not '" + c.expert_shape + "'");
  check(one_of(c.routing, {"softmax", "topk", "sigmoid", "hash"}), "routing",
        "must be softmax, topk, sigmoid or hash, not '" + c.routing + "'");
  check(one_of(c.drop_policy, {"position", "probability"}), "drop_policy",
        "must be position or probability, not '" + c.drop_policy + "'");
  check(one_of(c.device, {"auto", "cpu", "cuda"}), "device", "must be auto, cpu or cuda, not '" + c.device + "'");
  check(one_of(c.precision, {"auto", "fp32", "bf16", "fp16"}), "precision",
        "must be auto, fp32, bf16 or fp16, not '" + c.precision + "'");
  check(!(c.precision == "fp16" && c.device == "cpu"), "precision",
        "fp16 needs a CUDA device (its loss scaling runs there); use bf16 on the CPU");
  if (c.is_moe()) {
    check(c.n_experts >= 1 && c.n_experts <= 256, "n_experts", "must be between 1 and 256");
    if (c.expert_shape == "mlp" && c.n_experts >= 1)
      check((4 * c.n_embd) % c.n_experts == 0, "n_experts",
            "mlp experts split the 4d = " + std::to_string(4 * c.n_embd) + " hidden units evenly: N must divide it");
    if (c.routing == "topk") {
      check(c.top_k >= 1, "top_k", "must be at least 1");
      check(c.top_k <= c.n_experts, "top_k",
            "k = " + std::to_string(c.top_k) + " exceeds the number of experts N = " + std::to_string(c.n_experts));
      // beyond N/k no assignment can be dropped; far beyond, C = ceil(cf·k·S/N) would overflow
      if (c.use_capacity)
        check(c.capacity_factor > 0 && c.capacity_factor <= 1e6, "capacity_factor", "must be in (0, 1e6]");
    } else {
      check(!c.use_capacity, "use_capacity", "a capacity limit applies to topk routing only");
    }
    check(c.sigmoid_tau > 0 && c.sigmoid_tau < 1, "sigmoid_tau", "must be in (0, 1)");
  }
  check(c.aux_alpha >= 0, "aux_alpha", "must be >= 0");
  check(c.z_beta >= 0, "z_beta", "must be >= 0");
  check(c.router_jitter >= 0 && c.router_jitter < 1, "router_jitter", "must be in [0, 1)");
  check(c.sparsity_lambda >= 0, "sparsity_lambda", "must be >= 0");
  check(c.batch_size >= 1, "batch_size", "must be at least 1");
  check(c.max_iters >= 1, "max_iters", "must be at least 1");
  check(c.learning_rate > 0, "learning_rate", "must be > 0");
  check(c.min_lr >= 0 && c.min_lr <= c.learning_rate, "min_lr", "must be in [0, learning_rate]");
  check(c.warmup_iters >= 0, "warmup_iters", "must be >= 0");
  check(c.lr_decay_iters >= c.warmup_iters, "lr_decay_iters", "must be >= warmup_iters");
  check(c.weight_decay >= 0, "weight_decay", "must be >= 0");
  check(c.beta1 >= 0 && c.beta1 < 1, "beta1", "must be in [0, 1)");
  check(c.beta2 >= 0 && c.beta2 < 1, "beta2", "must be in [0, 1)");
  check(c.grad_clip >= 0, "grad_clip", "must be >= 0");
  check(c.eval_interval >= 1, "eval_interval", "must be at least 1");
  check(c.eval_iters >= 1, "eval_iters", "must be at least 1");
  check(c.log_interval >= 1, "log_interval", "must be at least 1");
  return e;
}

std::vector<FieldError> validate(const Config& c, long long train_tokens, long long val_tokens) {
  auto e = validate(c);
  const long long shortest = std::min(train_tokens, val_tokens);
  if (c.block_size + 1 > shortest)
    e.push_back({"block_size", "context of " + std::to_string(c.block_size) +
                                   " characters is longer than the dataset allows (the smaller split has " +
                                   std::to_string(shortest) + " characters; it needs context + 1)"});
  return e;
}

std::string to_json(const Config& c) {
  nlohmann::ordered_json j;
  visit_fields(c, [&](const char* name, const auto& member, const char*) { j[name] = member; });
  return j.dump(2);
}

Config config_from_json(const std::string& text, const Config& base, std::vector<FieldError>& errors) {
  Config c = base;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& ex) {
    errors.push_back({"", std::string("not valid JSON: ") + ex.what()});
    return c;
  } catch (const nlohmann::json::exception& ex) {  // a number beyond double's range ("1e999")
    errors.push_back({"", std::string("not a usable JSON document: ") + ex.what()});
    return c;
  }
  if (!j.is_object()) {
    errors.push_back({"", "the configuration must be a JSON object"});
    return c;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    visit_fields(c, [&](const char* name, auto& member, const char*) {
      if (it.key() != name) return;
      known = true;
      if (!assign_json(member, it.value()))
        errors.push_back({name, std::string("must be ") + type_name<std::decay_t<decltype(member)>>()});
    });
    if (!known) errors.push_back({it.key(), "unknown configuration key"});
  }
  return c;
}

std::string apply_override(Config& c, const std::string& key, const std::string& value) {
  std::string error = "unknown configuration key '" + key + "'";
  visit_fields(c, [&](const char* name, auto& member, const char*) {
    if (key != name) return;
    using T = std::decay_t<decltype(member)>;
    nlohmann::json parsed;
    if constexpr (std::is_same_v<T, std::string>) {
      parsed = value;
    } else {
      try {
        parsed = nlohmann::json::parse(value);
      } catch (const nlohmann::json::exception&) {  // not JSON, or a number beyond double (1e999)
        parsed = value;
      }
    }
    error = assign_json(member, parsed) ? "" : key + " must be " + type_name<T>() + ", got '" + value + "'";
  });
  return error;
}

namespace {
// expert_fraction: the share of expert weights counted (1 for all, k/N for one token's experts)
int64_t parameters(const Config& c, int vocab_size, double expert_fraction) {
  const int64_t d = c.n_embd, b = c.bias ? 1 : 0, N = c.n_experts;
  const int64_t norm = d + b * d;
  const int64_t attention = 3 * d * d + b * 3 * d + d * d + b * d;
  int64_t shared = 0;
  double experts = 0;
  if (!c.is_moe()) {
    shared = 4 * d * d + b * 4 * d + 4 * d * d + b * d;
  } else {
    const int64_t router = c.routing == "hash" ? 0 : N * d;
    if (c.expert_shape == "mlp") {
      shared = router + b * d;
      experts = static_cast<double>(8 * d * d + b * 4 * d);
    } else {
      shared = router + d * d + b * d;
      experts = static_cast<double>(N * d * d + b * N * d);
    }
  }
  const int64_t per_block = 2 * norm + attention + shared + static_cast<int64_t>(experts * expert_fraction);
  return vocab_size * d + static_cast<int64_t>(c.block_size) * d + c.n_layer * per_block + norm;
}
}  // namespace

int64_t count_parameters(const Config& c, int vocab_size) { return parameters(c, vocab_size, 1.0); }

int64_t count_active_parameters(const Config& c, int vocab_size) {
  const double fraction = c.is_moe() ? static_cast<double>(c.experts_per_token()) / c.n_experts : 1.0;
  return parameters(c, vocab_size, fraction);
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, json] : builtin_presets()) names.push_back(name);
  return names;
}

Config preset(const std::string& name) {
  for (const auto& [preset_name, json] : builtin_presets()) {
    if (preset_name != name) continue;
    std::vector<FieldError> errors;
    Config c = config_from_json(json, Config{}, errors);
    if (!errors.empty()) throw std::logic_error("built-in preset " + name + " is invalid: " + describe(errors));
    return c;
  }
  throw std::invalid_argument("unknown preset '" + name + "' (known: cpu-quick, paper)");
}

std::string describe(const std::vector<FieldError>& errors) {
  std::ostringstream out;
  for (const auto& e : errors) out << (e.field.empty() ? "config" : e.field) << ": " << e.message << "\n";
  return out.str();
}

}  // namespace moewb
