#include "cli_args.h"

#include <cmath>

#include "numbers.h"

namespace moewb {

CliArgs::CliArgs(int argc, char** argv, const std::set<std::string>& flags) {
  int i = 1;
  if (i < argc && std::string(argv[i]).rfind("--", 0) != 0) command_ = argv[i++];
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      positional_.push_back(arg);
      continue;
    }
    arg = arg.substr(2);
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      values_[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (flags.count(arg)) {
      values_[arg] = "true";
    } else {
      if (i + 1 >= argc) throw std::invalid_argument("--" + arg + " needs a value");
      values_[arg] = argv[++i];
    }
  }
}

std::string CliArgs::take(const std::string& key, const std::string& fallback) {
  taken_.insert(key);
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

int CliArgs::take_int(const std::string& key, int fallback, int minimum) {
  const std::string v = take(key);
  if (v.empty()) return fallback;
  const auto n = parse_int64(v);
  if (n && *n >= minimum && *n <= INT_MAX) return static_cast<int>(*n);
  throw std::invalid_argument("--" + key + " must be an integer between " + std::to_string(minimum) + " and " +
                              std::to_string(INT_MAX) + ", got '" + v + "'");
}

double CliArgs::take_double(const std::string& key, double fallback) {
  const std::string v = take(key);
  if (v.empty()) return fallback;
  const auto x = parse_double(v);
  if (x && std::isfinite(*x)) return *x;
  throw std::invalid_argument("--" + key + " must be a finite number, got '" + v + "'");
}

bool CliArgs::take_flag(const std::string& key) { return take(key) == "true"; }

std::map<std::string, std::string> CliArgs::rest() const {
  std::map<std::string, std::string> r;
  for (const auto& [k, v] : values_)
    if (!taken_.count(k)) r[k] = v;
  return r;
}

}  // namespace moewb
