#include "suite_worker.h"

#include <QElapsedTimer>

#include "suite.h"

namespace moewb {

namespace {
constexpr int kProgressMs = 100;  // at most ten progress signals a second
}

void SuiteWorker::run(const QString& suiteDir) {
  stop_ = false;
  try {
    Suite suite = Suite::open(suiteDir.toStdString());
    QElapsedTimer since;
    since.start();
    int last_variant = -1;
    const bool complete = suite.run(stop_, [&](const SuiteProgress& p) {
      if (p.variant != last_variant && last_variant >= 0)
        Q_EMIT variantFinished(suiteDir + "/" + QString::fromStdString(suite.variants()[last_variant].folder));
      last_variant = p.variant;
      if (since.elapsed() < kProgressMs && p.step != p.max_iters) return;
      since.restart();
      Q_EMIT progress(p.fraction(), QString("Run %1 of %2 (%3): step %4 / %5")
                                        .arg(p.variant + 1)
                                        .arg(p.variants)
                                        .arg(QString::fromStdString(p.folder))
                                        .arg(p.step)
                                        .arg(p.max_iters));
    });
    Q_EMIT finished(complete);
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromStdString(e.what()));
  }
}

}  // namespace moewb
