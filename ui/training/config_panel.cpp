#include "ui/training/config_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>

#include <cmath>
#include <type_traits>

#include "core/config/memory_estimate.h"
#include "core/model/machine.h"
#include "core/runs/disk_space.h"
#include "core/train/training.h"

namespace moewb {

namespace {

constexpr const char* kGroups[] = {kModel, kExperts, kRouting, kOptimisation, kSchedule};  // top to bottom

// Shows doubles the way they are written in configs (1e-3, 0.2, 0.99) instead of a fixed number of decimals.
class CompactDoubleSpinBox : public QDoubleSpinBox {
 public:
  CompactDoubleSpinBox() { setDecimals(8); }
  QString textFromValue(double value) const override { return QString::number(value, 'g', 6); }
  double valueFromText(const QString& text) const override { return text.toDouble(); }
  QValidator::State validate(QString& text, int&) const override {
    bool ok = false;
    text.toDouble(&ok);
    return ok ? QValidator::Acceptable : QValidator::Intermediate;
  }
};

// The form's label of a key (its row, and the summary of errors), from the config table.
QString label_of(const std::string& field) {
  QString label = QString::fromStdString(field);
  Config probe;
  visit_fields(probe, [&](const char* name, const auto&, const FieldSpec& spec) {
    if (field == name) label = QString::fromUtf8(spec.label);
  });
  return label;
}

QString format_count(int64_t n) {
  if (n >= 1000000) return QString::number(n / 1e6, 'f', 2) + " M";
  if (n >= 1000) return QString::number(n / 1e3, 'f', 1) + " k";
  return QString::number(n);
}

}  // namespace

ConfigPanel::ConfigPanel(QWidget* parent)
    : QWidget(parent), cuda_available_(cuda_available()), device_memory_(cuda_device_memory()) {
  config_ = preset(base_preset_.toStdString());
  buildForm();
  writeEditors();
  revalidate();
}

void ConfigPanel::buildForm() {
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  outer->addLayout(buildPresetRows());
  QMap<QString, QFormLayout*> forms;
  outer->addWidget(buildGroups(forms), 1);
  summary_ = new QLabel;
  summary_->setWordWrap(true);
  summary_->setStyleSheet("color: #b00020; padding: 4px 8px;");
  outer->addWidget(summary_);
  visit_fields(config_, [&](const char* name, auto& member, const FieldSpec& spec) {
    addFieldRow(forms[spec.group], name, makeEditor<std::decay_t<decltype(member)>>(name, spec), spec);
  });
  orderTabs(forms);
}

QFormLayout* ConfigPanel::buildPresetRows() {
  auto* top = new QFormLayout;
  top->setContentsMargins(8, 8, 8, 0);
  preset_ = new QComboBox;
  preset_->setObjectName("preset");
  for (const auto& name : preset_names()) preset_->addItem(QString::fromStdString(name));
  preset_->setToolTip("Load a preset's size and schedule: paper = nanoGPT shakespeare_char (6x384, context 256; for "
                      "CUDA), cpu-quick = nanoGPT's CPU recipe (4x128, context 64). Both start as a top-2 mixture of 4 "
                      "experts with the load-balancing loss at 0.01; the FFN kind and routing you chose stay.");
  connect(preset_, &QComboBox::activated, this, [this](int index) {
    if (index < static_cast<int>(preset_names().size())) selectPreset(preset_->itemText(index));
    else showPresetState();  // "custom (from …)" is a state, not a preset to load
  });
  top->addRow("Preset", preset_);
  params_ = new QLabel;
  params_->setWordWrap(true);  // the dock's width, not this line, sets how wide the form is
  params_->setToolTip("All parameters (the tied embedding counted once), and those one character uses: shared "
                      "weights plus its experts' share (k/N of the expert weights; sigmoid: an upper bound).");
  top->addRow("Parameters", params_);
  memory_ = new QLabel;
  memory_->setObjectName("memory");
  memory_->setWordWrap(true);
  top->addRow("Memory", memory_);
  return top;
}

QScrollArea* ConfigPanel::buildGroups(QMap<QString, QFormLayout*>& forms) {
  auto* scroll = new QScrollArea;
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  auto* body = new QWidget;
  auto* body_layout = new QVBoxLayout(body);
  for (const char* g : kGroups) {
    auto* box = new QGroupBox(g);
    auto* form = new QFormLayout(box);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    forms[g] = form;
    body_layout->addWidget(box);
  }
  body_layout->addStretch();
  scroll->setWidget(body);
  return scroll;
}

template <typename T>
QWidget* ConfigPanel::makeEditor(const QString& key, const FieldSpec& spec) {
  if constexpr (std::is_same_v<T, bool>) {
    auto* box = new QCheckBox;
    connect(box, &QCheckBox::toggled, this, [this] { readEditors(); });
    return box;
  } else if constexpr (std::is_same_v<T, int>) {
    auto* spin = new QSpinBox;
    spin->setRange(key == "seed" ? 0 : -1000000, 100000000);
    spin->setAccelerated(true);
    if (key == "expert_hidden") spin->setMinimum(0), spin->setSpecialValueText("4d/N (auto)");  // 0 means that
    connect(spin, &QSpinBox::valueChanged, this, [this] { readEditors(); });
    return spin;
  } else if constexpr (std::is_same_v<T, double>) {
    auto* spin = new CompactDoubleSpinBox;
    spin->setRange(-1000, 1000);
    spin->setSingleStep(key.contains("lr") || key == "learning_rate" ? 1e-4 : 0.05);
    connect(spin, &QDoubleSpinBox::valueChanged, this, [this] { readEditors(); });
    return spin;
  } else {
    auto* combo = new QComboBox;
    for (const auto& choice : allowed_names<T>(spec)) combo->addItem(QString::fromStdString(choice));
    connect(combo, &QComboBox::currentTextChanged, this, [this] { readEditors(); });
    return combo;
  }
}

void ConfigPanel::addFieldRow(QFormLayout* form, const QString& key, QWidget* editor, const FieldSpec& spec) {
  editor->setObjectName(key);
  const QString label_text = QString::fromUtf8(spec.label);
  editor->setToolTip(QString("<b>%1</b> (<code>%2</code>)<br>%3").arg(label_text, key, QString(spec.help)));
  auto* error = new QLabel;
  error->setObjectName(key + "_error");
  error->setStyleSheet("color: #b00020;");
  error->setWordWrap(true);
  error->hide();
  auto* cell = new QWidget;
  auto* cell_layout = new QVBoxLayout(cell);
  cell_layout->setContentsMargins(0, 0, 0, 0);
  cell_layout->setSpacing(2);
  cell_layout->addWidget(editor);
  cell_layout->addWidget(error);
  auto* label = new QLabel(label_text);
  label->setToolTip(editor->toolTip());
  form->addRow(label, cell);
  editors_[key] = editor;
  error_labels_[key] = error;
}

void ConfigPanel::orderTabs(const QMap<QString, QFormLayout*>& forms) {
  // Tab follows the screen, group by group and row by row: the editors were made in the key table's order
  QWidget* previous = preset_;
  for (const char* g : kGroups) {
    const QFormLayout* form = forms[g];
    for (int row = 0; row < form->rowCount(); ++row) {
      const QLayoutItem* item = form->itemAt(row, QFormLayout::FieldRole);
      QWidget* editor = item && item->widget() ? editors_.value(item->widget()->findChild<QWidget*>()->objectName())
                                               : nullptr;
      if (!editor) continue;
      setTabOrder(previous, editor);
      previous = editor;
    }
  }
}

void ConfigPanel::writeEditors() {
  updating_ = true;
  visit_fields(config_, [&](const char* name, auto& member, const FieldSpec&) {
    using T = std::decay_t<decltype(member)>;
    QWidget* w = editors_.value(name);
    if constexpr (std::is_same_v<T, bool>) static_cast<QCheckBox*>(w)->setChecked(member);
    else if constexpr (std::is_same_v<T, int>) static_cast<QSpinBox*>(w)->setValue(member);
    else if constexpr (std::is_same_v<T, double>) static_cast<QDoubleSpinBox*>(w)->setValue(member);
    else if constexpr (is_named_enum<T>) static_cast<QComboBox*>(w)->setCurrentIndex(static_cast<int>(member));
    else static_cast<QComboBox*>(w)->setCurrentText(QString::fromStdString(member));
  });
  updating_ = false;
}

void ConfigPanel::readEditors() {
  if (updating_) return;
  visit_fields(config_, [&](const char* name, auto& member, const FieldSpec&) {
    using T = std::decay_t<decltype(member)>;
    QWidget* w = editors_.value(name);
    if constexpr (std::is_same_v<T, bool>) member = static_cast<QCheckBox*>(w)->isChecked();
    else if constexpr (std::is_same_v<T, int>) member = static_cast<QSpinBox*>(w)->value();
    else if constexpr (std::is_same_v<T, double>) member = static_cast<QDoubleSpinBox*>(w)->value();
    else if constexpr (is_named_enum<T>) member = static_cast<T>(static_cast<QComboBox*>(w)->currentIndex());
    else member = static_cast<QComboBox*>(w)->currentText().toStdString();
  });
  revalidate();
}

void ConfigPanel::setConfig(const Config& c) {
  config_ = c;
  writeEditors();
  revalidate();
}

void ConfigPanel::selectPreset(const QString& name) {
  Config c = preset(name.toStdString());  // throws for an unknown name, before anything changes
  base_preset_ = name;
  c.ffn = config_.ffn, c.n_experts = config_.n_experts, c.routing = config_.routing, c.top_k = config_.top_k;
  c.use_capacity = config_.use_capacity, c.capacity_factor = config_.capacity_factor;
  setConfig(c);
}

void ConfigPanel::restore(const Config& c, const QString& basePreset) {
  if (preset_->findText(basePreset) >= 0) base_preset_ = basePreset;
  setConfig(c);
}

void ConfigPanel::showPresetState() {
  const int presets = static_cast<int>(preset_names().size());
  const bool edited = to_json(config_) != to_json(preset(base_preset_.toStdString()));
  if (preset_->count() > presets) preset_->removeItem(presets);
  if (edited) {
    preset_->addItem(QString("custom (from %1)").arg(base_preset_));
    preset_->setCurrentIndex(presets);
  } else {
    preset_->setCurrentText(base_preset_);
  }
}

void ConfigPanel::setDatasetSize(long long trainTokens, long long valTokens, int vocabSize) {
  train_tokens_ = trainTokens, val_tokens_ = valTokens, vocab_size_ = vocabSize;
  dataset_error_.clear();
  revalidate();
}

void ConfigPanel::setDatasetError(const QString& message) {
  dataset_error_ = message;
  train_tokens_ = val_tokens_ = -1;
  revalidate();
}

QString ConfigPanel::errorFor(const QString& field) const {
  for (const auto& e : errors_)
    if (QString::fromStdString(e.field) == field) return QString::fromStdString(e.message);
  return {};
}

void ConfigPanel::revalidate() {
  errors_ = train_tokens_ >= 0 ? validate(config_, train_tokens_, val_tokens_) : validate(config_);
  if (!dataset_error_.isEmpty()) errors_.push_back({"dataset", dataset_error_.toStdString()});
  if (config_.device == DeviceChoice::cuda && !cuda_available_)
    errors_.push_back({"device", "no CUDA device is available on this machine: choose auto or cpu"});
  if (config_.precision == PrecisionChoice::fp16 && config_.device != DeviceChoice::cpu && !cuda_available_)
    errors_.push_back({"precision", "fp16 needs a CUDA device, and this machine has none: use bf16 or fp32"});
  const bool cuda = cuda_available_ && config_.device != DeviceChoice::cpu;
  const MemoryEstimate need = estimate_training_memory(config_, vocab_size_, std::max(0LL, train_tokens_ + val_tokens_),
                                                       cuda);
  const double available = cuda ? device_memory_ : available_host_memory();
  if (errors_.empty()) {
    for (const auto& e : check_memory(need, available, cuda ? "the GPU" : "this machine")) errors_.push_back(e);
  }
  const auto bytes = [](double b) { return QString::fromStdString(format_bytes(b)); };
  const bool fits = available <= 0 || need.total() <= available;
  memory_->setText(QString("≈ %1 of %2 %3")
                       .arg(bytes(need.total()), available > 0 ? bytes(available) : QString("unknown"),
                            cuda ? "on the GPU" : "available"));
  memory_->setStyleSheet(fits ? QString() : QString("color: #b00020;"));
  memory_->setToolTip(QString("Estimated peak memory of training (within about 20 %): weights, gradients and AdamW "
                              "moments %1, the activations one batch keeps for the backward pass %2, the dataset "
                              "%3; compared with the memory available now (the GPU's memory on CUDA). Start is "
                              "refused when it does not fit.\nOn disk, each checkpoint takes about %4, and a run keeps "
                              "three at once while it saves (latest.pt, best.pt and the next one): Start is refused "
                              "when the run folder's disk lacks the room.")
                          .arg(bytes(need.model_bytes), bytes(need.activations_bytes), bytes(need.dataset_bytes),
                               bytes(checkpoint_file_bytes(config_, vocab_size_))));
  for (auto it = error_labels_.begin(); it != error_labels_.end(); ++it) {
    const QString message = errorFor(it.key());
    it.value()->setText(message);
    it.value()->setVisible(!message.isEmpty());
  }
  // Fields that do not apply to the chosen FFN/routing (the key table's rule) are disabled rather than hidden, so the
  // form keeps its shape; one with an error stays editable.
  for (auto it = editors_.begin(); it != editors_.end(); ++it)
    it.value()->setEnabled(key_applies(config_, it.key().toStdString()) || !errorFor(it.key()).isEmpty());
  if (errors_.empty()) {
    const int64_t total = count_parameters(config_, vocab_size_), active = count_active_parameters(config_, vocab_size_);
    params_->setText(QString("%1 total · %2%3 active per character")
                         .arg(format_count(total), applies_when::sigmoid(config_) ? "≤ " : "",
                              format_count(active)));
    summary_->clear();
    summary_->hide();
  } else {
    params_->setText("—");
    QStringList lines;
    for (const auto& e : errors_)
      lines << QString("%1: %2").arg(e.field == "dataset" ? QString("Dataset") : label_of(e.field),
                                     QString::fromStdString(e.message));
    summary_->setText(lines.join("\n"));
    summary_->show();
  }
  showPresetState();
  Q_EMIT configChanged(config_, errors_.empty());
}

}  // namespace moewb
