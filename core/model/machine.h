// What this process computes on: LibTorch's CPU threads and whether there is a CUDA device. No LibTorch in this
// header: the app sets the threads and asks for CUDA without including it.
#pragma once

namespace moewb {

bool cuda_available();
// Memory of the first CUDA device in bytes; 0 without one.
double cuda_device_memory();

// Threads for training and evaluation on a CPU: 0 (the default) means every core. The desktop app leaves one
// core to its GUI, so the window stays smooth and training slows gracefully when another process needs the CPU.
void set_training_threads(int threads);
int training_threads();  // the effective count (>= 1)
// Sets the calling thread's LibTorch intra-op threads (OpenMP keeps the count per thread) to
// training_threads(); LibTorch defaults to 1 here. Trainers and models call it on their own thread.
void init_torch_threads();

}  // namespace moewb
