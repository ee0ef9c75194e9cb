#include "ui/shell/run_state_indicator.h"

namespace moewb {

namespace {

// Dots readable on light and dark status bars (mid-luminance colours of the Okabe-Ito set).
QString dot_color(RunPhase phase) {
  switch (phase) {
    case RunPhase::Training: return "#009E73";
    case RunPhase::Starting:
    case RunPhase::Pausing:
    case RunPhase::Stopping: return "#E69F00";
    case RunPhase::Paused: return "#56B4E9";
    case RunPhase::Finished: return "#0072B2";
    case RunPhase::Failed: return "#D55E00";
    case RunPhase::Idle:
    case RunPhase::Stopped: break;
  }
  return "#999999";
}

}  // namespace

QString phase_name(RunPhase phase) {
  switch (phase) {
    case RunPhase::Idle: return "Idle";
    case RunPhase::Starting: return "Starting";
    case RunPhase::Training: return "Training";
    case RunPhase::Pausing: return "Pausing";
    case RunPhase::Paused: return "Paused";
    case RunPhase::Stopping: return "Stopping";
    case RunPhase::Stopped: return "Stopped";
    case RunPhase::Finished: return "Finished";
    case RunPhase::Failed: return "Failed";
  }
  return {};
}

RunStateIndicator::RunStateIndicator(QWidget* parent) : QLabel(parent) {
  setObjectName("run_state");
  setTextFormat(Qt::RichText);
  setPhase(RunPhase::Idle);
}

void RunStateIndicator::setPhase(RunPhase phase, const QString& detail) {
  const bool changed = phase != phase_;
  phase_ = phase;
  detail_ = detail;
  QString text = QString("<span style='color:%1'>&#9679;</span> <b>%2</b>").arg(dot_color(phase), phase_name(phase));
  if (!detail.isEmpty()) text += " — " + detail.toHtmlEscaped();
  setText(text);
  setToolTip(detail.isEmpty() ? phase_name(phase) : phase_name(phase) + ": " + detail);
  if (changed) Q_EMIT phaseChanged(phase);
}

}  // namespace moewb
