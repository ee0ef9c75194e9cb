// Qt Charts is not thread-safe: it measures every text through one static QGraphicsTextItem, so a chart laid out
// on a worker thread (Export all figures) while the window's charts lay out corrupts both. Charts are therefore
// built and rendered on the application's thread only; a worker hands that part over and waits, while the
// rest of its work (reading the run, heatmaps, encoding files) stays off the GUI thread.
#pragma once

#include <functional>

namespace moewb {

// Runs fn on the application's (GUI) thread: at once when called there or when there is no application,
// else queued there while this thread waits. Throws std::runtime_error when the application shuts down
// before fn started; fn's own exceptions reach the caller.
void run_on_gui_thread(const std::function<void()>& fn);

}  // namespace moewb
