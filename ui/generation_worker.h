// Generates text on its own thread from an InferenceModel value; characters are batched into chunks
// (at most one signal per ~30 ms) so a fast model cannot flood the GUI's event queue.
#pragma once

#include <QObject>
#include <QString>

#include <atomic>

#include "meta_types.h"

namespace moewb {

class GenerationWorker : public QObject {
  Q_OBJECT

 public:
  void cancel() { cancel_ = true; }

 public Q_SLOTS:
  void generate(const moewb::InferenceModel& model, const QString& prompt, int length, double temperature, int topK,
                int seed, bool useCache);

 Q_SIGNALS:
  void chunk(const QString& text);
  void finished(int characters, double charactersPerSecond);
  void failed(const QString& message);

 private:
  std::atomic<bool> cancel_{false};
};

}  // namespace moewb
