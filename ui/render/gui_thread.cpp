#include "ui/render/gui_thread.h"

#include <QCoreApplication>
#include <QMetaObject>
#include <QThread>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace moewb {

namespace {

constexpr auto kPollShutdown = std::chrono::milliseconds(100);

// The handshake between the waiting worker and the queued call: the call runs only if the worker still
// waits, and the worker gives up only if the call has not started, so fn never outlives the worker's frame.
struct Handoff {
  std::mutex mutex;
  std::condition_variable changed;
  bool started = false, finished = false, abandoned = false;
  std::exception_ptr error;
};

}  // namespace

void run_on_gui_thread(const std::function<void()>& fn) {
  QCoreApplication* app = QCoreApplication::instance();
  // no application (it is being destroyed while a worker finishes): there is no GUI thread to draw on
  if (!app) throw std::runtime_error("the application closed before the figure was drawn");
  if (QThread::currentThread() == app->thread()) {
    fn();
    return;
  }
  if (QCoreApplication::closingDown()) throw std::runtime_error("the application closed before the figure was drawn");
  auto handoff = std::make_shared<Handoff>();
  QMetaObject::invokeMethod(
      app,
      [handoff, &fn] {
        {
          std::lock_guard lock(handoff->mutex);
          if (handoff->abandoned) return;
          handoff->started = true;
        }
        std::exception_ptr error;
        try {
          fn();
        } catch (...) {
          error = std::current_exception();
        }
        std::lock_guard lock(handoff->mutex);
        handoff->error = error;
        handoff->finished = true;
        handoff->changed.notify_all();
      },
      Qt::QueuedConnection);
  std::unique_lock lock(handoff->mutex);
  while (!handoff->finished) {
    handoff->changed.wait_for(lock, kPollShutdown);
    if (!handoff->started && QCoreApplication::closingDown()) {
      handoff->abandoned = true;
      throw std::runtime_error("the application closed before the figure was drawn");
    }
  }
  if (handoff->error) std::rethrow_exception(handoff->error);
}

}  // namespace moewb
