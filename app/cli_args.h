// A small argument parser for the CLI: `command --key value`, `--key=value` and bare `--flag`s.
#pragma once

#include <climits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace moewb {

class CliArgs {
 public:
  // `flags` are options that take no value; words after the command that are not options are positional.
  CliArgs(int argc, char** argv, const std::set<std::string>& flags);

  const std::string& command() const { return command_; }
  const std::vector<std::string>& positional() const { return positional_; }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  // Returns the value and marks the key used; `fallback` when absent.
  std::string take(const std::string& key, const std::string& fallback = "");
  // Strict: the whole value is an integer in [minimum, INT_MAX], else std::invalid_argument naming the option.
  int take_int(const std::string& key, int fallback, int minimum = INT_MIN);
  double take_double(const std::string& key, double fallback);
  bool take_flag(const std::string& key);
  // Keys not taken yet (config overrides for train/bench, errors elsewhere).
  std::map<std::string, std::string> rest() const;

 private:
  std::string command_;
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
  std::set<std::string> taken_;
};

}  // namespace moewb
