#include "ui/generation/generation_panel.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace moewb {

GenerationPanel::GenerationPanel(QWidget* parent) : QWidget(parent), worker_(new GenerationWorker) {
  register_meta_types();
  startWorker();
  buildPrompt();
  buildSettings();
  buildOutput();
  layOut();
  connectControls();
  connectWorker();
}

void GenerationPanel::startWorker() {
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  thread_.setObjectName("generation");
  thread_.start();
}

void GenerationPanel::buildPrompt() {
  prompt_ = new QLineEdit;
  prompt_->setPlaceholderText("Prompt (empty: start from a newline)");
  prompt_->setToolTip("Text the model continues; every character must be in the model's vocabulary.");
  button_ = new QPushButton("Generate");
  button_->setDefault(true);
}

void GenerationPanel::buildSettings() {
  length_ = new QSpinBox;
  length_->setRange(1, 100000);
  length_->setValue(500);
  length_->setToolTip("Characters to generate.");
  temperature_ = new QDoubleSpinBox;
  temperature_->setRange(0.0, 5.0);
  temperature_->setSingleStep(0.1);
  temperature_->setValue(0.8);
  temperature_->setToolTip("Divide the logits by this before sampling; 0 picks the most likely character.");
  top_k_ = new QSpinBox;
  top_k_->setRange(0, 100000);
  top_k_->setValue(200);
  top_k_->setToolTip("Sample among the k most likely characters; 0 = all.");
  seed_ = new QSpinBox;
  seed_->setRange(0, 1000000000);
  seed_->setValue(1337);
  seed_->setToolTip("Sampling seed: the same model, prompt and seed give the same text.");
  cache_ = new QCheckBox("KV cache");
  cache_->setChecked(true);
  cache_->setToolTip("Keep attention keys/values so each new character costs one position, not the whole context.");
  settings_ = new QGridLayout;
  for (const auto& [label, w] : std::initializer_list<std::pair<const char*, QWidget*>>{
           {"Length", length_}, {"Temperature", temperature_}, {"Top-k", top_k_}, {"Seed", seed_}})
    settings_fields_.append({new QLabel(label), w});
  setCompact(false);
}

void GenerationPanel::buildOutput() {
  output_ = new QPlainTextEdit;
  output_->setReadOnly(true);
  output_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  output_->setPlaceholderText("Generated text appears here as it is produced.");
  status_ = new QLabel;
}

void GenerationPanel::layOut() {
  auto* prompt_row = new QHBoxLayout;
  prompt_row->addWidget(prompt_, 1);
  prompt_row->addWidget(button_);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(prompt_row);
  layout->addLayout(settings_);
  layout->addWidget(output_, 1);
  layout->addWidget(status_);
}

void GenerationPanel::connectControls() {
  connect(button_, &QPushButton::clicked, this, [this] {
    if (running_) {
      worker_->cancel();
      return;
    }
    Q_EMIT modelRequested();
  });
  connect(prompt_, &QLineEdit::returnPressed, button_, &QPushButton::click);
}

void GenerationPanel::connectWorker() {
  connect(worker_, &GenerationWorker::chunk, this, [this](const QString& t) {
    output_->moveCursor(QTextCursor::End);
    output_->insertPlainText(t);
    output_->ensureCursorVisible();
    if (model_) Q_EMIT textGrown(*model_, text());
  });
  connect(worker_, &GenerationWorker::finished, this, [this](int n, double rate) {
    setRunning(false);
    setStatus(QString("%1 characters at %2 characters/s (%3)")
                  .arg(n)
                  .arg(rate, 0, 'f', 0)
                  .arg(cache_->isChecked() ? "KV cache" : "no cache"));
    if (model_) Q_EMIT textGrown(*model_, text());
    Q_EMIT finished(text());
  });
  connect(worker_, &GenerationWorker::speedRecorded, this, [this](const QString& runDir, const QString& error) {
    if (!error.isEmpty()) {
      setStatus(status_->text() + " — not recorded for the run: " + error);
      return;
    }
    setStatus(status_->text() + " — recorded as the run's generation speed (Runs tab)");
    Q_EMIT speedRecorded(runDir);
  });
  connect(worker_, &GenerationWorker::failed, this, [this](const QString& message) {
    setRunning(false);
    setStatus("Cannot generate: " + message);
  });
}

void GenerationPanel::setCompact(bool compact) {
  // addWidget moves a widget already in the grid; the column after the last field takes the spare width
  for (int i = 0; i < settings_->columnCount(); ++i) settings_->setColumnStretch(i, 0);
  int row = 0, column = 0;
  for (const auto& [label, field] : settings_fields_) {
    settings_->addWidget(label, row, column);
    settings_->addWidget(field, row, column + 1);
    column += 2;
    if (compact && column == 4) row += 1, column = 0;
  }
  settings_->addWidget(cache_, row, column, 1, compact ? 2 : 1);
  settings_->setColumnStretch(compact ? 3 : column + 1, 1);
}

GenerationPanel::~GenerationPanel() {
  worker_->cancel();
  thread_.quit();
  thread_.wait();
}

void GenerationPanel::generateWith(const InferenceModel& model, const QString& runDir) {
  if (running_) return;
  output_->setPlainText(prompt_->text());
  model_ = model;
  setRunning(true);
  setStatus(QString("Generating on %1…").arg(QString::fromStdString(model.device())));
  const QString prompt = prompt_->text();
  const int length = length_->value(), top_k = top_k_->value(), seed = seed_->value();
  const double temperature = temperature_->value();
  const bool cache = cache_->isChecked();
  QMetaObject::invokeMethod(
      worker_, [w = worker_, model, prompt, length, temperature, top_k, seed, cache, runDir] {
        w->generate(model, prompt, length, temperature, top_k, seed, cache, runDir);
      },
      Qt::QueuedConnection);
}

void GenerationPanel::setStatus(const QString& text) { status_->setText(text); }

QString GenerationPanel::status() const { return status_->text(); }

QString GenerationPanel::text() const { return output_->toPlainText(); }

void GenerationPanel::setRunning(bool on) {
  running_ = on;
  button_->setText(on ? "Stop" : "Generate");
}

}  // namespace moewb
