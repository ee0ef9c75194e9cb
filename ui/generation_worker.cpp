#include "generation_worker.h"

#include <QElapsedTimer>

namespace moewb {

namespace {
constexpr int kChunkMs = 30;
}

void GenerationWorker::generate(const InferenceModel& model, const QString& prompt, int length, double temperature,
                                int topK, int seed, bool useCache) {
  cancel_ = false;
  GenerationOptions o;
  o.length = length, o.temperature = temperature, o.top_k = topK, o.seed = static_cast<uint64_t>(seed);
  o.use_cache = useCache;
  QElapsedTimer total, since_emit;
  total.start();
  since_emit.start();
  std::string pending;
  int produced = 0;
  try {
    model.generate(prompt.toStdString(), o, [&](const std::string& piece) {
      pending += piece;
      ++produced;
      if (since_emit.elapsed() >= kChunkMs) {
        Q_EMIT chunk(QString::fromStdString(pending));
        pending.clear();
        since_emit.restart();
      }
      return !cancel_;
    });
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromStdString(e.what()));
    return;
  }
  if (!pending.empty()) Q_EMIT chunk(QString::fromStdString(pending));
  Q_EMIT finished(produced, produced / std::max(1e-9, total.nsecsElapsed() / 1e9));
}

}  // namespace moewb
