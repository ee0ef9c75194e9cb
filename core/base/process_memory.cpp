#include "core/base/process_memory.h"

#include <cmath>
#include <fstream>

#ifdef MOEWB_MIMALLOC
#include <mimalloc.h>
#else
#include <malloc.h>
#endif

namespace moewb {

double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return NAN;
}

bool reset_peak_rss() {
#ifdef MOEWB_MIMALLOC
  mi_collect(/*force=*/true);
#else
  malloc_trim(0);
#endif
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

void keep_freed_memory_between_steps() {
#ifdef MOEWB_MIMALLOC
  // By default mimalloc decommits freed pages after 25 ms (whole segments after 500 ms): shorter than a step at
  // the paper's size (about 1.2 s on 2 cores), so each step faulted its activations in again, 4 KiB at a time,
  // and ran at half the speed of glibc's malloc. Ten seconds spans a step of any model trained here.
  mi_option_set(mi_option_decommit_delay, 10000);
  mi_option_set(mi_option_segment_decommit_delay, 10000);
#endif
}

std::string allocator_name() {
#ifdef MOEWB_MIMALLOC
  const int v = mi_version();  // 209 for 2.0.9
  return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10);
#else
  return "glibc malloc";
#endif
}

}  // namespace moewb
