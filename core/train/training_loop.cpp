#include "core/train/training_loop.h"

namespace moewb {

LoopEnd run_training_loop(Trainer& trainer, const TrainingLoop& loop) {
  while (!trainer.done()) {
    if (loop.before_step) loop.before_step();
    if (loop.stop && loop.stop()) {
      trainer.save_latest();
      return LoopEnd::stopped;
    }
    if (loop.pause && loop.pause()) {
      trainer.save_latest();
      return LoopEnd::paused;
    }
    const Progress p = trainer.advance();
    if (loop.on_progress) loop.on_progress(p);
  }
  return LoopEnd::finished;
}

}  // namespace moewb
