#include "ui/generation/generation_worker.h"

#include <QElapsedTimer>

#include "core/runs/run_summary.h"

namespace moewb {

namespace {
constexpr int kChunkMs = 30;
}

void GenerationWorker::generate(const InferenceModel& model, const QString& prompt, int length, double temperature,
                                int topK, int seed, bool useCache, const QString& speedRunDir) {
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
  const double rate = produced / std::max(1e-9, total.nsecsElapsed() / 1e9);
  Q_EMIT finished(produced, rate);
  // the comparison's convention (KV cache, batch 1); a stopped generation measured less than it was asked to
  if (speedRunDir.isEmpty() || !useCache || produced < length) return;
  try {
    write_generation_speed(speedRunDir.toStdString(), rate, produced);
    Q_EMIT speedRecorded(speedRunDir, {});
  } catch (const std::exception& e) {
    Q_EMIT speedRecorded(speedRunDir, QString::fromStdString(e.what()));
  }
}

}  // namespace moewb
