// The process's own memory on the host: its peak resident size, a fresh start for that peak, and the allocator
// that serves it (mimalloc where the build found it: it keeps freed blocks for reuse, where glibc's malloc hands
// large ones back to the kernel and faults them in again at every step).
#pragma once

#include <string>

namespace moewb {

double peak_rss_mb();  // the process's peak resident memory (VmHWM), MiB; NaN where /proc cannot tell

// Gives the allocator's free pages back to the kernel, then restarts the peak from what is resident now, so the
// next peak_rss_mb() measures what follows (Linux: writing 5 to /proc/self/clear_refs). False where the kernel
// refuses, and the peak then still counts everything since the process started.
bool reset_peak_rss();

std::string allocator_name();  // "mimalloc 2.0.9" or "glibc malloc"

// Keeps memory a training step frees committed for the next one (mimalloc: for 10 s instead of 25 ms), and hands
// it back to the kernel once a run has been idle that long. Called by every trainer; idempotent.
void keep_freed_memory_between_steps();

}  // namespace moewb
