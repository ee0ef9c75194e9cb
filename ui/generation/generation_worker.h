// Generates text on its own thread from an InferenceModel value; characters are batched into chunks
// (at most one signal per ~30 ms) so a fast model cannot flood the GUI's event queue.
#pragma once

#include <QObject>
#include <QString>

#include <atomic>

#include "ui/common/meta_types.h"

namespace moewb {

class GenerationWorker : public QObject {
  Q_OBJECT

 public:
  void cancel() { cancel_ = true; }

 public Q_SLOTS:
  // `speedRunDir`: the run whose model it is; a generation with the KV cache that runs to its length records
  // its speed in that folder's summary.json (write_generation_speed), as the paper experiment does. Empty: none.
  void generate(const moewb::InferenceModel& model, const QString& prompt, int length, double temperature, int topK,
                int seed, bool useCache, const QString& speedRunDir = {});

 Q_SIGNALS:
  void chunk(const QString& text);
  void finished(int characters, double charactersPerSecond);
  void failed(const QString& message);
  // After finished(), when the speed was for a run: written (error empty) or why not.
  void speedRecorded(const QString& runDir, const QString& error);

 private:
  std::atomic<bool> cancel_{false};
};

}  // namespace moewb
