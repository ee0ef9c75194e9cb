// The trainer's state, always visible in the status bar: idle, starting, training, pausing, paused, stopping,
// stopped, finished or failed, with a coloured dot and a short detail (step, what is being waited for). The
// main window decides the phase from the controller's and the suite's signals; this only shows it.
#pragma once

#include <QLabel>

namespace moewb {

enum class RunPhase { Idle, Starting, Training, Pausing, Paused, Stopping, Stopped, Finished, Failed };

QString phase_name(RunPhase phase);

class RunStateIndicator : public QLabel {
  Q_OBJECT

 public:
  explicit RunStateIndicator(QWidget* parent = nullptr);

  void setPhase(RunPhase phase, const QString& detail = {});
  RunPhase phase() const { return phase_; }
  QString detail() const { return detail_; }

 Q_SIGNALS:
  void phaseChanged(moewb::RunPhase phase);

 private:
  RunPhase phase_ = RunPhase::Idle;
  QString detail_;
};

}  // namespace moewb
