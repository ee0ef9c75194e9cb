// What a run is, in a few words: its routing summary ("top-2 · N 4 · cf 1.0"), the name it shows until the user
// names it (that summary and its start time), and the subtitle of every figure of it. One place, so the Runs
// table, `moewb-cli export`, Export all figures and a view's own export say it the same way.
#pragma once

#include <string>

#include "core/config/config.h"

namespace moewb {

// "dense", "top-2 · N 4" ("· cf 1.0" with the capacity limit), "softmax · N 4", "sigmoid τ 0.5 · N 4",
// "hash · N 4"; "· linear" added for d x d experts.
std::string routing_summary(const Config& c);

// When the run started, as "HH:MM" (local time): from the folder's name when it begins with the
// "yyyyMMdd-HHmmss" stamp the app and the CLI give new runs, else from the first line of its train.log; empty
// when neither says.
std::string run_start_time(const std::string& run_dir);

// The name of a run the user has not named: "top-2 · N 4 · cf 1.0 · 15:17" (the summary alone without a time).
std::string automatic_run_name(const Config& c, const std::string& start_time);
// The user's name (meta.json) when there is one, else the automatic name.
std::string run_display_name(const std::string& user_name, const Config& c, const std::string& start_time);

// Whether the capacity limit shaped the routing a figure shows; not_a_trace for charts over training.
enum class TraceCapacity { not_a_trace, applied, not_applied };

// The subtitle of a figure of a run: "baseline · top-2 · N 4 · cf 1.0 · step 2000 · capacity applied to this
// trace". The routing summary is left out when the name begins with it (an automatic name); the step when it is
// negative (an ad-hoc trace); the capacity note for a run without the limit.
std::string figure_subtitle(const std::string& display_name, const Config& c, int step, TraceCapacity capacity);

}  // namespace moewb
