// The loop that drives a Trainer to its end, shared by every driver (the CLI's train and resume, the app's training
// worker, the paper's suite): before each step it asks whether to stop or pause, and a stop or a pause saves the
// latest checkpoint first, so what the run learnt is never lost. What asks and what hears each step is the driver's.
// (bench times a fixed number of steps instead, without checkpoints: it drives advance() itself.)
#pragma once

#include <functional>

#include "core/train/training.h"

namespace moewb {

struct TrainingLoop {
  // Called before each step, in this order; each may be empty. In a data-parallel group `stop` must be a collective
  // that every rank calls at each step (Trainer::stop_requested), so the ranks stop together.
  std::function<void()> before_step;  // e.g. serve a request for a snapshot of the weights
  std::function<bool()> stop;
  std::function<bool()> pause;
  std::function<void(const Progress&)> on_progress;  // after each step
};

enum class LoopEnd {
  finished,  // the schedule's last step is done (nothing saved here: the last evaluation wrote its checkpoint)
  stopped,   // asked to stop: latest.pt holds the step reached
  paused,    // asked to pause: latest.pt holds the step reached, and the trainer can go on
};

LoopEnd run_training_loop(Trainer& trainer, const TrainingLoop& loop);

}  // namespace moewb
