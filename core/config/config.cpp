// Config (de)serialisation and validation; no torch here so the GUI form can validate as the user types.
#include "core/config/config.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/base/numbers.h"

namespace moewb {

const std::vector<std::pair<std::string, std::string>>& builtin_presets();

int Config::experts_per_token() const {
  if (!is_moe()) return 0;
  if (routing == RoutingMode::softmax) return n_experts;
  if (routing == RoutingMode::hash) return 1;
  if (routing == RoutingMode::sigmoid) return n_experts;  // an upper bound; the actual count is data dependent
  return top_k;
}

namespace {

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
  } else if constexpr (is_named_enum<T>) {
    if (!value.is_string()) return false;
    const auto e = enum_from_name<T>(value.get<std::string>());
    if (!e) return false;
    member = *e;
  } else {
    if (!value.is_string()) return false;
    member = value.get<std::string>();
  }
  return true;
}

// "a, b or c"
std::string alternatives(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

template <typename T>
std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_same_v<T, int>) return "an integer between -2147483648 and 2147483647";
  else if constexpr (std::is_same_v<T, double>) return "a finite number";
  else if constexpr (is_named_enum<T>) return alternatives(allowed_names<T>({}));
  else return "a string";
}

// The value as config.json writes it: enums by name.
template <typename T>
nlohmann::json json_value(const T& member) {
  if constexpr (is_named_enum<T>) return name_of(member);
  else return member;
}

}  // namespace

std::string Range::describe(bool integer) const {
  auto number = [&](double v) { return format_double(v, 6); };
  const bool low = min > -1e300, high = max < 1e300;
  if (low && !high) {
    if (min_open) return "> " + number(min);
    return integer ? "at least " + number(min) : ">= " + number(min);
  }
  if (high && !low) return (max_open ? "< " : "<= ") + number(max);
  if (integer && !min_open && !max_open) return "between " + number(min) + " and " + number(max);
  return std::string("in ") + (min_open ? "(" : "[") + number(min) + ", " + number(max) + (max_open ? ")" : "]");
}

bool key_applies(const Config& c, const std::string& key) {
  bool applies = true;
  visit_fields(c, [&](const char* name, const auto&, const FieldSpec& spec) {
    if (spec.applies && key == name) applies = spec.applies(c);
  });
  return applies;
}

std::vector<FieldError> validate(const Config& c) {
  std::vector<FieldError> e;
  // what the table says about each key on its own
  visit_fields(c, [&](const char* name, const auto& member, const FieldSpec& spec) {
    using T = std::decay_t<decltype(member)>;
    if constexpr (std::is_same_v<T, std::string>) {
      const auto& allowed = spec.choices;
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), member) == allowed.end())
        e.push_back({name, "must be " + alternatives(allowed) + ", not '" + member + "'"});
    } else if constexpr (!std::is_same_v<T, bool> && !is_named_enum<T>) {
      if (!spec.range.contains(static_cast<double>(member)))
        e.push_back({name, "must be " + spec.range.describe(std::is_integral_v<T>)});
    }
  });
  auto check = [&](bool ok, const char* field, const std::string& msg) {
    if (!ok) e.push_back({field, msg});
  };
  // rules that tie keys together
  if (c.n_head >= 1 && c.n_embd >= 1)
    check(c.n_embd % c.n_head == 0, "n_embd",
          "width d = " + std::to_string(c.n_embd) + " is not divisible by n_head = " + std::to_string(c.n_head));
  check(!(c.precision == PrecisionChoice::fp16 && c.device == DeviceChoice::cpu), "precision",
        "fp16 needs a CUDA device (its loss scaling runs there); use bf16 on the CPU");
  if (c.is_moe()) {
    if (c.expert_shape == ExpertShape::mlp && c.n_experts >= 1 && c.expert_hidden == 0)
      check((4 * c.n_embd) % c.n_experts == 0, "n_experts",
            "mlp experts split the 4d = " + std::to_string(4 * c.n_embd) +
                " hidden units evenly: N must divide it (or set expert_hidden)");
    check(key_applies(c, "expert_hidden") || c.expert_hidden == 0, "expert_hidden",
          "applies to the mlp expert shape only (a linear expert is a d x d map)");
    if (key_applies(c, "top_k"))
      check(c.top_k <= c.n_experts, "top_k",
            "k = " + std::to_string(c.top_k) + " exceeds the number of experts N = " + std::to_string(c.n_experts));
    check(key_applies(c, "use_capacity") || !c.use_capacity, "use_capacity",
          "a capacity limit applies to topk routing only");
  }
  check(c.min_lr <= c.learning_rate, "min_lr", "must be at most learning_rate");
  check(c.lr_decay_iters >= c.warmup_iters, "lr_decay_iters", "must be >= warmup_iters");
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
  visit_fields(c, [&](const char* name, const auto& member, const FieldSpec&) { j[name] = json_value(member); });
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
    visit_fields(c, [&](const char* name, auto& member, const FieldSpec&) {
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
  visit_fields(c, [&](const char* name, auto& member, const FieldSpec&) {
    if (key != name) return;
    using T = std::decay_t<decltype(member)>;
    nlohmann::json parsed;
    if constexpr (std::is_same_v<T, std::string> || is_named_enum<T>) {
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
    const int64_t router = c.routing == RoutingMode::hash ? 0 : N * d;
    if (c.expert_shape == ExpertShape::mlp) {
      shared = router + b * d;
      const int64_t h = c.expert_hidden_units();
      experts = static_cast<double>(N * (2 * h * d + b * h));
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

std::string config_keys_markdown() {
  std::string out = "| key | type | default | allowed | group | what |\n|---|---|---|---|---|---|\n";
  const Config defaults;
  visit_fields(defaults, [&](const char* name, const auto& member, const FieldSpec& spec) {
    using T = std::decay_t<decltype(member)>;
    std::string type, value, allowed;
    if constexpr (std::is_same_v<T, bool>) {
      type = "bool", value = member ? "true" : "false", allowed = "true, false";
    } else if constexpr (std::is_same_v<T, std::string> || is_named_enum<T>) {
      type = "text", value = json_value(member).template get<std::string>();
      for (const auto& choice : allowed_names<T>(spec)) allowed += (allowed.empty() ? "" : ", ") + choice;
    } else {
      type = std::is_integral_v<T> ? "integer" : "number";
      value = format_double(static_cast<double>(member), 6);
      allowed = spec.range.describe(std::is_integral_v<T>);
    }
    out += "| `" + std::string(name) + "` | " + type + " | " + value + " | " + allowed + " | " + spec.group + " | " +
           spec.help + " |\n";
  });
  return out;
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
