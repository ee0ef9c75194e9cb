// The message of a failure that came back through a QFuture. Qt 6.4's QtConcurrent keeps an exception that is
// not a QException as a QUnhandledException whose what() is "std::exception", and QFuture::waitForFinished()
// throws it again: the user must read the message the core wrote, and a destructor must not throw.
#pragma once

#include <QString>
#include <QUnhandledException>

#include <exception>

namespace moewb {

inline QString failure_message(const std::exception& e) {
  const auto* wrapped = dynamic_cast<const QUnhandledException*>(&e);
  if (wrapped && wrapped->exception()) {
    try {
      std::rethrow_exception(wrapped->exception());
    } catch (const std::exception& inner) {
      return QString::fromUtf8(inner.what());
    } catch (...) {
    }
  }
  return QString::fromUtf8(e.what());
}

// Waits for a future whose failure was already reported when it finished.
template <typename Watcher>
void wait_quietly(Watcher& watcher) {
  try {
    watcher.waitForFinished();
  } catch (const std::exception&) {
  }
}

}  // namespace moewb
