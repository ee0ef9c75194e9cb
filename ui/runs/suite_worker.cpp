#include "ui/runs/suite_worker.h"

#include <QElapsedTimer>

#include "core/train/suite.h"

namespace moewb {

namespace {
constexpr int kProgressMs = 100;  // at most ten progress signals a second
}

SuiteWorker::SuiteWorker() { register_meta_types(); }

void SuiteWorker::run(const QString& suiteDir) {
  stop_ = false;
  try {
    Suite suite = Suite::open(suiteDir.toStdString());
    QElapsedTimer since;
    since.start();
    int last_variant = -1;
    const auto on_progress = [&](const SuiteProgress& p) {
      if (p.variant != last_variant) {
        if (last_variant >= 0)
          Q_EMIT variantFinished(suiteDir + "/" + QString::fromStdString(suite.variants()[last_variant].folder));
        const SuiteVariant& v = suite.variants()[p.variant];
        Q_EMIT variantStarted(suiteDir + "/" + QString::fromStdString(v.folder), v.config, p.variant, p.variants,
                              p.step);
      }
      last_variant = p.variant;
      if (since.elapsed() < kProgressMs && p.step != p.max_iters) return;
      since.restart();
      Q_EMIT progress(p.fraction(), QString("Run %1 of %2 (%3): step %4 / %5")
                                        .arg(p.variant + 1)
                                        .arg(p.variants)
                                        .arg(QString::fromStdString(p.folder))
                                        .arg(p.step)
                                        .arg(p.max_iters));
    };
    const auto on_event = [this](const Progress& p) {
      if (p.step) Q_EMIT stepDone(*p.step);
      if (p.eval) Q_EMIT evalDone(*p.eval);
    };
    const bool complete = suite.run(stop_, on_progress, on_event);
    Q_EMIT finished(complete);
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromStdString(e.what()));
  }
}

}  // namespace moewb
