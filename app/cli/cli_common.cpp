// No commands: what several command groups share (cli_common.h).
#include "app/cli/cli_common.h"

#include <csignal>
#include <cstdlib>
#include <ctime>

#include "core/base/files.h"
#include "core/distributed/collective.h"
#include "core/runs/run_log.h"
#include "core/train/training.h"

namespace moewb {

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};  // the signal that asked to stop

spdlog::sink_ptr g_terminal;
std::shared_ptr<spdlog::logger> g_log;

namespace {

// In a data-parallel group every rank may fail the same way: the others' lines say which rank they come from.
std::string rank_prefix() {
  const char* rank = std::getenv("RANK");
  const char* world = std::getenv("WORLD_SIZE");
  if (!rank || !world || std::string(rank) == "0" || std::string(world) == "1") return "";
  return "rank " + std::string(rank) + ": ";
}

// SIGINT, SIGTERM and SIGHUP stop after the current step with a checkpoint; a second one ends the process at
// once (a long evaluation), leaving the last checkpoint, which atomic writes never tear.
void on_stop_signal(int signal) {
  if (g_interrupted) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
  g_signal = signal;
  g_interrupted = true;
}

}  // namespace

void open_terminal(bool verbose) {
  g_terminal = make_terminal_sink(rank_prefix(), verbose);
  g_log = std::make_shared<spdlog::logger>("moewb-cli", g_terminal);
}

void catch_stop_signals() {
  for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, on_stop_signal);
}

std::string default_dataset() { return MOEWB_DEFAULT_DATASET; }

std::string default_run_dir(const Config& c) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  std::string kind = "dense";
  if (c.is_moe()) kind = name_of(c.routing) + (c.routing == RoutingMode::topk ? std::to_string(c.top_k) : "");
  if (c.is_moe() && c.use_capacity) kind += "-cf" + std::to_string(c.capacity_factor).substr(0, 3);
  return default_runs_directory() + "/" + stamp + "-" + kind;
}

void require_distributed() {
  if (!distributed_available())
    throw std::runtime_error(
        "--nproc: this build has no distributed training (LibTorch's Gloo headers were not "
        "found when it was configured; Debian: apt install libgloo-dev, then reconfigure)");
}

void GroupOptions::add_to(CLI::App* app) {
  add_int(app, "nproc", nproc, "data-parallel on N local processes (Gloo over 127.0.0.1)", 1);
  add_int(app, "timeout", timeout, "seconds a rank waits for the others before the job fails", 1);
  app->add_flag("--expert-parallel", expert_parallel,
                "each rank holds n_experts / ranks experts of every layer; tokens travel to them (all_to_all)");
}

void GroupOptions::check(const Config& c) const {
  check_world_size(c, nproc);
  if (expert_parallel) check_expert_split(c, nproc);
}

void ModelOptions::add_to(CLI::App* app) {
  app->add_option("--checkpoint", checkpoint, "a checkpoint (.pt) of a run")->type_name("FILE")->required();
  app->add_option("--device", device, "where the model runs")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
}

InferenceModel ModelOptions::load() const {
  InferenceModel m = InferenceModel::load(checkpoint, *enum_from_name<DeviceChoice>(device));  // checked above
  if (!m.notice().empty()) g_log->warn("{}", m.notice());
  return m;
}

}  // namespace moewb
