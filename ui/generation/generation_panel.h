// The Generation dock: prompt, length, temperature, top-k, seed and KV-cache switch; the text streams into
// the view as it is produced. The model comes from the caller (a training snapshot or a checkpoint).
#pragma once

#include <QThread>
#include <QWidget>

#include <optional>

#include "ui/generation/generation_worker.h"

class QCheckBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

class QGridLayout;

namespace moewb {

class GenerationPanel : public QWidget {
  Q_OBJECT

 public:
  explicit GenerationPanel(QWidget* parent = nullptr);
  ~GenerationPanel() override;

  // Starts generating with this model and the panel's settings. `runDir`: the run whose model it is; a
  // generation with the KV cache that runs to its length records its speed there (the Runs tab's Gen chars/s,
  // summary.json) and says speedRecorded(). Empty: the speed is only shown.
  void generateWith(const InferenceModel& model, const QString& runDir = {});
  void setStatus(const QString& text);
  QString status() const;
  // Compact: the settings in two columns, for a narrow dock (Generation as a tab beside the configuration);
  // otherwise in one row under the prompt.
  void setCompact(bool compact);
  QString text() const;
  bool running() const { return running_; }

 Q_SIGNALS:
  // The user asked for text: the owner supplies a model through generateWith().
  void modelRequested();
  void finished(const QString& text);
  // The run's summary.json holds the speed just measured.
  void speedRecorded(const QString& runDir);
  // The text so far (prompt included) and the model writing it, at every streamed chunk and at the end: the
  // Routing panel traces generated text as it streams.
  void textGrown(const moewb::InferenceModel& model, const QString& text);

 private:
  // The panel, built in these steps: the worker's thread, the prompt row, the settings grid, the output, the
  // layout, then what the button and the worker's signals do.
  void startWorker();
  void buildPrompt();
  void buildSettings();
  void buildOutput();
  void layOut();
  void connectControls();
  void connectWorker();
  void setRunning(bool on);

  QThread thread_;
  GenerationWorker* worker_;
  bool running_ = false;
  std::optional<InferenceModel> model_;  // the model generating (or that generated) the text
  QLineEdit* prompt_;
  QSpinBox *length_, *top_k_, *seed_;
  QDoubleSpinBox* temperature_;
  QCheckBox* cache_;
  QGridLayout* settings_;
  QList<QPair<QLabel*, QWidget*>> settings_fields_;
  QPushButton* button_;
  QPlainTextEdit* output_;
  QLabel* status_;
};

}  // namespace moewb
