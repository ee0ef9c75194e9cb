// No commands: the options every command builds from (cli_options.h).
#include "app/cli/cli_options.h"

#include <cmath>

#include "core/base/files.h"
#include "core/base/numbers.h"
#include "core/train/training.h"

namespace moewb {

CLI::Option* add_int(CLI::App* app, const std::string& name, int& target, const std::string& help, int minimum,
                     int maximum) {
  const std::string shown = std::to_string(target);
  auto set = [&target, name, minimum, maximum](const std::string& value) {
    const auto n = parse_int64(value);
    if (!n || *n < minimum || *n > maximum)
      throw CLI::ValidationError("--" + name + " must be an integer between " + std::to_string(minimum) + " and " +
                                 std::to_string(maximum) + ", got '" + value + "'");
    target = static_cast<int>(*n);
  };
  auto* option = app->add_option_function<std::string>("--" + name, set, help)->type_name("INT");
  return target >= minimum ? option->default_str(shown) : option;  // a default outside the range means "none"
}

CLI::Option* add_int64(CLI::App* app, const std::string& name, int64_t& target, const std::string& help,
                       int64_t minimum) {
  const std::string shown = std::to_string(target);
  auto set = [&target, name, minimum](const std::string& value) {
    const auto n = parse_int64(value);
    if (!n || *n < minimum)
      throw CLI::ValidationError("--" + name + " must be an integer of at least " + std::to_string(minimum) +
                                 ", got '" + value + "'");
    target = *n;
  };
  return app->add_option_function<std::string>("--" + name, set, help)->type_name("INT")->default_str(shown);
}

CLI::Option* add_number(CLI::App* app, const std::string& name, double& target, const std::string& help) {
  const std::string shown = format_double(target, 6);
  auto set = [&target, name](const std::string& value) {
    const auto x = parse_double(value);
    if (!x || !std::isfinite(*x))
      throw CLI::ValidationError("--" + name + " must be a finite number, got '" + value + "'");
    target = *x;
  };
  return app->add_option_function<std::string>("--" + name, set, help)->type_name("NUMBER")->default_str(shown);
}

void add_config_keys(CLI::App* app, ConfigOverrides& overrides) {
  const Config defaults;
  visit_fields(defaults, [&](const char* name, const auto& member, const FieldSpec& spec) {
    const std::string option = "--" + std::string(name);
    if (app->get_option_no_throw(option)) return;  // the command's own option of that name
    using T = std::decay_t<decltype(member)>;
    std::string type, allowed;
    if constexpr (std::is_same_v<T, bool>) {
      type = "BOOL", allowed = "true or false";
    } else if constexpr (std::is_same_v<T, std::string> || is_named_enum<T>) {
      type = "TEXT";
      for (const auto& choice : allowed_names<T>(spec)) allowed += (allowed.empty() ? "" : ", ") + choice;
    } else {
      type = std::is_integral_v<T> ? "INT" : "NUMBER";
      allowed = spec.range.describe(std::is_integral_v<T>);
    }
    auto keep = [&overrides, key = std::string(name)](const std::string& value) { overrides.emplace_back(key, value); };
    app->add_option_function<std::string>(option, keep, std::string(spec.help) + " (" + allowed + ")")
        ->type_name(type)
        ->group(std::string("Config: ") + spec.group);
  });
}

Config build_config(const std::string& preset_name, const std::string& config_file, const ConfigOverrides& overrides) {
  Config c = preset(preset_name);
  std::vector<FieldError> errors;
  if (!config_file.empty()) {
    c = config_from_json(read_file(config_file), c, errors);
    if (!errors.empty()) throw ConfigError(errors);
  }
  for (const auto& [key, value] : overrides) {
    const std::string error = apply_override(c, key, value);
    // the message starts with the key, which the error list prints already
    if (!error.empty()) errors.push_back({key, error.rfind(key + " ", 0) == 0 ? error.substr(key.size() + 1) : error});
  }
  if (!errors.empty()) throw ConfigError(errors);
  return c;
}

}  // namespace moewb
