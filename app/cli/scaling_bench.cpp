// No commands: what `moewb-cli bench --nproc N` measures (scaling_bench.h).
#include "app/cli/scaling_bench.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <thread>

#include "app/cli/local_launcher.h"
#include "core/base/files.h"
#include "core/base/numbers.h"
#include "core/distributed/collective.h"
#include "core/model/machine.h"
#include "core/train/bench.h"
#include "core/train/training.h"

namespace moewb {

namespace {

int cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::string row(int processes, int threads, int batch, double tokens_per_sec, const std::string& speedup,
                const std::string& efficiency) {
  char line[200];
  std::snprintf(line, sizeof line, "| %d | %d | %d | %.0f | %s | %s |\n", processes, threads, batch, tokens_per_sec,
                speedup.c_str(), efficiency.c_str());
  return line;
}

}  // namespace

int run_scaling_bench(const Config& c, const TextDataset& data, const ScalingOptions& o) {
  check_world_size(c, o.nproc);
  if (o.expert_parallel) check_expert_split(c, o.nproc);
  const int threads_each = std::max(1, cores() / o.nproc);
  std::cout << "scaling: n_layer " << c.n_layer << ", d " << c.n_embd << ", context " << c.block_size
            << ", global batch " << c.batch_size << ", ffn " << name_of(c.ffn)
            << (c.is_moe() ? " " + name_of(c.routing) : "")
            << (o.expert_parallel ? ", expert-parallel (" + std::to_string(c.n_experts / o.nproc) + " experts per rank)"
                                  : "")
            << ", " << o.steps << " timed steps, " << cores()
            << " cores, Gloo over 127.0.0.1\n";
  set_training_threads(threads_each);
  const double one = measure_training_throughput(c, data, o.steps, o.warmup);
  set_training_threads(0);
  const double one_all = threads_each == cores() ? one : measure_training_throughput(c, data, o.steps, o.warmup);

  const PrivateTempFolder folder("moewb-scaling");
  const std::string result = folder.file("tokens_per_sec");
  std::vector<std::string> args = o.rank_args;
  args.insert(args.end(), {"--scaling-result", result});
  const int status = launch_local_ranks(o.nproc, o.timeout, args);
  if (status != 0) return status;
  std::string text = read_file(result);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const auto measured = parse_double(text);
  if (!measured) throw std::runtime_error("the ranks did not report their throughput");
  const double many = *measured;

  std::cout << "\n| processes | threads each | batch each | tokens/s | speed-up | scaling efficiency |\n"
            << "|---|---|---|---|---|---|\n"
            << row(1, threads_each, c.batch_size, one, "1.00", "100 %");
  if (threads_each != cores()) {
    char speedup[32];
    std::snprintf(speedup, sizeof speedup, "%.2f", one_all / one);
    std::cout << row(1, cores(), c.batch_size, one_all, speedup, "(all cores, one process)");
  }
  char speedup[32], efficiency[32];
  std::snprintf(speedup, sizeof speedup, "%.2f", many / one);
  std::snprintf(efficiency, sizeof efficiency, "%.0f %%", 100.0 * many / (o.nproc * one));
  std::cout << row(o.nproc, threads_each, c.batch_size / o.nproc, many, speedup, efficiency);
  std::cout << "\nscaling efficiency = tokens/s of " << o.nproc << " ranks / (" << o.nproc
            << " x tokens/s of one process with the same threads); the global batch is the same in every row\n";
  return 0;
}

int run_scaling_rank(const Config& c, const TextDataset& data, const ScalingOptions& o, const std::string& result) {
  auto where = rendezvous_from_environment();
  if (!where || where->world_size < 2)
    throw std::invalid_argument("--scaling-result is for the ranks that bench --nproc starts");
  where->timeout = o.timeout;
  set_training_threads(std::max(1, cores() / where->local_world_size));
  const auto group = Collective::join(*where);
  const double tokens_per_sec = measure_training_throughput(c, data, o.steps, o.warmup, group, o.expert_parallel);
  if (group->rank() == 0) atomic_write(result, format_double(tokens_per_sec, 9) + "\n");
  return 0;
}

}  // namespace moewb
