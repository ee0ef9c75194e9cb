// The Generation dock: prompt, length, temperature, top-k, seed and KV-cache switch; the text streams into
// the view as it is produced. The model comes from the caller (a training snapshot or a checkpoint).
#pragma once

#include <QThread>
#include <QWidget>

#include <optional>

#include "generation_worker.h"

class QCheckBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace moewb {

class GenerationPanel : public QWidget {
  Q_OBJECT

 public:
  explicit GenerationPanel(QWidget* parent = nullptr);
  ~GenerationPanel() override;

  // Starts generating with this model and the panel's settings.
  void generateWith(const InferenceModel& model);
  void setStatus(const QString& text);
  QString text() const;
  bool running() const { return running_; }

 Q_SIGNALS:
  // The user asked for text: the owner supplies a model through generateWith().
  void modelRequested();
  void finished(const QString& text);
  // The text so far (prompt included) and the model writing it, at every streamed chunk and at the end: the
  // Routing panel traces generated text as it streams.
  void textGrown(const moewb::InferenceModel& model, const QString& text);

 private:
  void setRunning(bool on);

  QThread thread_;
  GenerationWorker* worker_;
  bool running_ = false;
  std::optional<InferenceModel> model_;  // the model generating (or that generated) the text
  QLineEdit* prompt_;
  QSpinBox *length_, *top_k_, *seed_;
  QDoubleSpinBox* temperature_;
  QCheckBox* cache_;
  QPushButton* button_;
  QPlainTextEdit* output_;
  QLabel* status_;
};

}  // namespace moewb
