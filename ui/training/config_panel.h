// The Configuration dock: every Config field as an editor, grouped (Model, FFN / experts, Routing,
// Optimisation, Schedule), built from visit_fields so a new field appears here by itself. Validation runs on
// every edit; errors show under their field and configChanged says whether Start may be enabled.
#pragma once

#include <QMap>
#include <QWidget>

#include "ui/common/meta_types.h"

class QComboBox;
class QFormLayout;
class QLabel;
class QScrollArea;

namespace moewb {

class ConfigPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ConfigPanel(QWidget* parent = nullptr);

  Config config() const { return config_; }
  void setConfig(const Config& c);
  // The dataset the config is checked against (context length, vocabulary for parameter counts).
  void setDatasetSize(long long trainTokens, long long valTokens, int vocabSize);
  void setDatasetError(const QString& message);
  // Loads a preset's sizes and schedule, keeping the FFN kind and routing chosen (a preset is a machine's size).
  void selectPreset(const QString& name);
  // The preset the config started from; the box says "custom (from <name>)" once the config differs from it.
  QString basePreset() const { return base_preset_; }
  // A config remembered from an earlier session, with the preset it started from.
  void restore(const Config& c, const QString& basePreset);
  bool isValid() const { return errors_.empty(); }
  // The message shown for a field, empty when it is valid (for tests and the status bar).
  QString errorFor(const QString& field) const;
  QWidget* editorFor(const QString& field) const { return editors_.value(field); }

 Q_SIGNALS:
  void configChanged(const moewb::Config& config, bool valid);

 private:
  // The form, top to bottom: preset rows, one group box per kGroups entry with a row per field, error summary.
  void buildForm();
  QFormLayout* buildPresetRows();  // preset, parameter count, memory estimate
  // The scrolled group boxes, empty; `forms` gets each group's form by name.
  QScrollArea* buildGroups(QMap<QString, QFormLayout*>& forms);
  // The editor of a field of type T; every edit reads the editors back.
  template <typename T>
  QWidget* makeEditor(const QString& key, const FieldSpec& spec);
  // The field's row: its label, its editor and the error shown under it.
  void addFieldRow(QFormLayout* form, const QString& key, QWidget* editor, const FieldSpec& spec);
  void orderTabs(const QMap<QString, QFormLayout*>& forms);
  void readEditors();
  void writeEditors();
  void revalidate();
  void showPresetState();

  Config config_;
  std::vector<FieldError> errors_;
  long long train_tokens_ = -1, val_tokens_ = -1;
  int vocab_size_ = 65;
  QString dataset_error_;
  bool updating_ = false;
  bool cuda_available_;
  QComboBox* preset_ = nullptr;
  QString base_preset_ = "cpu-quick";
  QLabel* params_ = nullptr;
  QLabel* memory_ = nullptr;
  double device_memory_ = 0;  // CUDA device bytes, 0 without one
  QLabel* summary_ = nullptr;
  QMap<QString, QWidget*> editors_;
  QMap<QString, QLabel*> error_labels_;
};

}  // namespace moewb
