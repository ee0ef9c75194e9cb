#include "core/runs/run_name.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "core/runs/run_folder.h"

namespace moewb {

namespace {

constexpr const char* kSeparator = " · ";

// 1.0, 0.5, 1.25: one decimal at least, no trailing zeros beyond it.
std::string short_number(double v) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(3);
  s << v;
  std::string text = s.str();
  while (text.size() > 1 && text.back() == '0' && text[text.size() - 2] != '.') text.pop_back();
  return text;
}

bool digits(const std::string& s, size_t from, size_t count) {
  if (s.size() < from + count) return false;
  for (size_t i = from; i < from + count; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// "HH:MM" from two-digit hour and minute fields at `at` and `at + gap`, or empty when they are no time of day.
std::string time_of_day(const std::string& s, size_t at, size_t gap) {
  if (!digits(s, at, 2) || !digits(s, at + gap, 2)) return {};
  const int hour = std::stoi(s.substr(at, 2)), minute = std::stoi(s.substr(at + gap, 2));
  if (hour > 23 || minute > 59) return {};
  return s.substr(at, 2) + ":" + s.substr(at + gap, 2);
}

}  // namespace

std::string routing_summary(const Config& c) {
  if (!c.is_moe()) return "dense";
  std::string routing = name_of(c.routing);
  if (c.routing == RoutingMode::topk) routing = "top-" + std::to_string(c.top_k);
  if (c.routing == RoutingMode::sigmoid) routing += " τ " + short_number(c.sigmoid_tau);
  std::string out = routing + kSeparator + "N " + std::to_string(c.n_experts);
  if (c.routing == RoutingMode::topk && c.use_capacity) out += kSeparator + std::string("cf ") + short_number(c.capacity_factor);
  if (c.expert_shape == ExpertShape::linear) out += kSeparator + std::string("linear");
  return out;
}

std::string run_start_time(const std::string& run_dir) {
  const auto slash = run_dir.find_last_of('/');
  const std::string folder = slash == std::string::npos ? run_dir : run_dir.substr(slash + 1);
  // yyyyMMdd-HHmmss…
  if (digits(folder, 0, 8) && folder.size() > 8 && folder[8] == '-') {
    const std::string t = time_of_day(folder, 9, 2);
    if (!t.empty()) return t;
  }
  // train.log's lines begin "yyyy-MM-dd HH:mm:ss.zzz"; its first is the start
  std::ifstream log(RunFolder(run_dir).log_file());
  std::string first;
  if (!std::getline(log, first) || first.size() < 16 || first[10] != ' ') return {};
  return time_of_day(first, 11, 3);
}

std::string automatic_run_name(const Config& c, const std::string& start_time) {
  return start_time.empty() ? routing_summary(c) : routing_summary(c) + kSeparator + start_time;
}

std::string run_display_name(const std::string& user_name, const Config& c, const std::string& start_time) {
  return user_name.empty() ? automatic_run_name(c, start_time) : user_name;
}

std::string figure_subtitle(const std::string& display_name, const Config& c, int step, TraceCapacity capacity) {
  std::string out = display_name;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : kSeparator) + part; };
  const std::string summary = routing_summary(c);
  if (display_name.compare(0, summary.size(), summary) != 0) add(summary);
  if (step >= 0) add("step " + std::to_string(step));
  if (capacity == TraceCapacity::applied) add("capacity applied to this trace");
  else if (capacity == TraceCapacity::not_applied && c.routing == RoutingMode::topk && c.use_capacity)
    add("capacity not applied to this trace");
  return out;
}

}  // namespace moewb
