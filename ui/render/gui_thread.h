// Qt Charts is not thread-safe: it measures every text through one static QGraphicsTextItem, so a chart laid out
// on a worker thread (Export all figures) while the window's charts lay out corrupts both. Charts are therefore
// built and rendered on the application's thread only; a worker hands that part over and waits, while the
// rest of its work (reading the run, heatmaps, encoding files) stays off the GUI thread.
#pragma once

#include <functional>

namespace moewb {

// Runs fn on the application's (GUI) thread: at once when called there, else queued there while this thread
// waits. Throws std::runtime_error when there is no application or it shuts down before fn started; fn's own
// exceptions reach the caller. The GUI thread must never wait on a thread that calls this (it would wait
// forever): exports on workers are watched with QFutureWatcher, not waited for.
void run_on_gui_thread(const std::function<void()>& fn);

}  // namespace moewb
