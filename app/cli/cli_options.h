// The CLI's options through CLI11: numbers read by the project's strict, locale-proof parsers (numbers.h; CLI11's
// own integer conversion reads "010" as octal 8), and one `--<key>` option per config key, derived from the key
// table (config.h) so that `--help` lists them with their group, help and default.
#pragma once

#include <CLI/CLI.hpp>
#include <climits>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/config/config.h"

namespace moewb {

// A command: its CLI11 subcommand and what it does once the command line is parsed (the exit code).
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// Strict integers in [minimum, maximum] and finite numbers; a bad value is a CLI::ValidationError naming the option.
CLI::Option* add_int(CLI::App* app, const std::string& name, int& target, const std::string& help, int minimum,
                     int maximum = INT_MAX);
CLI::Option* add_int64(CLI::App* app, const std::string& name, int64_t& target, const std::string& help,
                       int64_t minimum);
CLI::Option* add_number(CLI::App* app, const std::string& name, double& target, const std::string& help);

// Config keys given on the command line, in the order given.
using ConfigOverrides = std::vector<std::pair<std::string, std::string>>;

// `--<key> VALUE` for every config key the command does not already have as an option of its own, grouped as the
// configuration panel groups them. Values are checked when applied (apply_override), so errors name the key.
void add_config_keys(CLI::App* app, ConfigOverrides& overrides);

// The preset, then the JSON file (if any), then the overrides; throws ConfigError listing every bad key.
Config build_config(const std::string& preset_name, const std::string& config_file, const ConfigOverrides& overrides);

}  // namespace moewb
