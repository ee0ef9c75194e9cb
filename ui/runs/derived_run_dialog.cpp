#include "ui/runs/derived_run_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QScreen>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/runs/run_summary.h"
#include "core/train/training.h"

namespace moewb {

namespace {
QString folder_name(const QString& dir) { return QDir(dir).dirName(); }
}  // namespace

DerivedRunDialog::DerivedRunDialog(const QString& sourceRun, const Config& sourceConfig, QWidget* parent)
    : QDialog(parent), source_(sourceRun), config_(sourceConfig), prune_(sourceConfig.is_moe()) {
  setWindowTitle(prune_ ? "Prune experts" : "Upcycle into a mixture of experts");
  // the settings and the report scroll when the screen is short (200 % scale); the buttons stay in view
  content_ = new QWidget;
  auto* layout = new QVBoxLayout(content_);
  layout->addWidget(buildIntro());
  layout->addWidget(buildExpertChoice());
  layout->addWidget(buildFineTuning());
  buildProgress(layout);
  QDialogButtonBox* buttons = buildButtons();
  layout->addStretch(1);
  buildScrollArea(buttons);
  connectButtons();
  updateEnabled();
  fitToContent();
}

QLabel* DerivedRunDialog::buildIntro() {
  RunSummary kind;
  kind.config = config_;
  auto* intro = new QLabel(
      prune_
          ? QString("Remove experts from every layer of <b>%1</b> (%2) and fine-tune the smaller model in a new run. "
                    "Shares are measured by routing the whole validation split; the source run is only read.")
                .arg(folder_name(source_).toHtmlEscaped(), QString::fromStdString(kind.kind()))
          : QString("Turn the dense model of <b>%1</b> into a mixture of experts and fine-tune it in a new run. "
                    "<i>Partition</i> splits each feed-forward layer's hidden units into experts (MoEfication); "
                    "<i>copy</i> makes every expert a copy of it (sparse upcycling).")
                .arg(folder_name(source_).toHtmlEscaped()));
  intro->setWordWrap(true);
  return intro;
}

QGroupBox* DerivedRunDialog::buildExpertChoice() {
  auto* what = new QGroupBox(prune_ ? "Which experts" : "Experts", this);
  auto* form = new QFormLayout(what);
  if (prune_) addPruneRows(what, form);
  else addUpcycleRows(what, form);
  return what;
}

void DerivedRunDialog::addPruneRows(QGroupBox* what, QFormLayout* form) {
  below_share_ = new QRadioButton("Experts below a share of", what);
  min_share_ = new QDoubleSpinBox(what);
  min_share_->setRange(0.0, 0.99), min_share_->setDecimals(3), min_share_->setSingleStep(0.01);
  min_share_->setValue(0.02);
  min_share_->setToolTip(
      "An expert's share of its layer's router assignments over the validation split. Every "
      "layer loses as many experts as the layer with the most below it (one N per model).");
  remove_count_ = new QRadioButton("A number per layer", what);
  remove_ = new QSpinBox(what);
  remove_->setRange(1, std::max(1, config_.n_experts - 1));
  below_share_->setChecked(true);
  ranking_ = new QComboBox(what);
  ranking_->addItem("lowest share of assignments");
  ranking_->addItem(QString("smallest knockout loss change (%1 evaluations)")
                        .arg(config_.n_layer * config_.n_experts + 1));
  form->addRow(below_share_, min_share_);
  form->addRow(remove_count_, remove_);
  form->addRow("Remove first", ranking_);
  for (auto* radio : {below_share_, remove_count_})
    connect(radio, &QRadioButton::toggled, this, [this] { updateEnabled(); });
}

void DerivedRunDialog::addUpcycleRows(QGroupBox* what, QFormLayout* form) {
  method_ = new QComboBox(what);
  method_->addItem("partition (MoEfication)");
  method_->addItem("copy (sparse upcycling)");
  experts_ = new QSpinBox(what);
  experts_->setRange(2, 256), experts_->setValue(4);
  routing_ = new QComboBox(what);
  for (const char* name : EnumNames<RoutingMode>::names) routing_->addItem(name);
  routing_->setCurrentText("topk");
  top_k_ = new QSpinBox(what);
  top_k_->setRange(1, 256), top_k_->setValue(2);
  form->addRow("Method", method_);
  form->addRow("Experts N", experts_);
  form->addRow("Routing", routing_);
  form->addRow("Top-k", top_k_);
  connect(routing_, &QComboBox::currentTextChanged, this, [this] { updateEnabled(); });
}

QGroupBox* DerivedRunDialog::buildFineTuning() {
  auto* then = new QGroupBox("Fine-tuning", this);
  auto* then_form = new QFormLayout(then);
  steps_ = new QSpinBox(then);
  steps_->setRange(1, 1000000), steps_->setValue(300);
  steps_->setToolTip(
      "The new run's iterations: a tenth of the source's learning rate, cosine decay to a tenth of that.");
  out_ = new QLineEdit(then);
  out_->setPlaceholderText(QString("automatic: %1-%2").arg(folder_name(source_), prune_ ? "pruned" : "upcycled"));
  then_form->addRow("Steps", steps_);
  then_form->addRow("New run folder", out_);
  return then;
}

void DerivedRunDialog::buildProgress(QVBoxLayout* layout) {
  progress_label_ = new QLabel(this);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1000);
  progress_->hide();
  report_ = new QLabel(this);
  report_->setWordWrap(true);
  report_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(progress_label_);
  layout->addWidget(progress_);
  layout->addWidget(report_);
}

QDialogButtonBox* DerivedRunDialog::buildButtons() {
  auto* buttons = new QDialogButtonBox(this);
  create_ = buttons->addButton(prune_ ? "Prune" : "Upcycle", QDialogButtonBox::AcceptRole);
  fine_tune_ = buttons->addButton("Open and fine-tune", QDialogButtonBox::ActionRole);
  close_ = buttons->addButton(QDialogButtonBox::Close);
  fine_tune_->hide();
  create_->setDefault(true);
  return buttons;
}

void DerivedRunDialog::buildScrollArea(QDialogButtonBox* buttons) {
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(content_);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  auto* outer = new QVBoxLayout(this);
  outer->addWidget(scroll, 1);
  outer->addWidget(buttons);
}

void DerivedRunDialog::connectButtons() {
  connect(create_, &QPushButton::clicked, this, &DerivedRunDialog::create);
  connect(close_, &QPushButton::clicked, this, &DerivedRunDialog::reject);
  connect(fine_tune_, &QPushButton::clicked, this, [this] {
    Q_EMIT fineTuneRequested(created_run_);
    accept();
  });
  connect(this, &DerivedRunDialog::progressed, this, [this](const QString& what, qint64 done, qint64 total) {
    progress_label_->setText(what.left(1).toUpper() + what.mid(1) + "…");
    progress_->setValue(total > 0 ? static_cast<int>(1000 * done / total) : 0);
  });
  connect(&watcher_, &QFutureWatcher<Outcome>::finished, this, &DerivedRunDialog::finish);
}

void DerivedRunDialog::fitToContent() {
  const QRect screen = (parentWidget() ? parentWidget()->screen() : this->screen())->availableGeometry();
  const int width = std::min(std::max(560, content_->sizeHint().width() + 40), screen.width() * 9 / 10);
  content_->adjustSize();
  const int content_height = content_->layout()->hasHeightForWidth() ? content_->layout()->heightForWidth(width - 40)
                                                                        : content_->sizeHint().height();
  const int height = std::min(content_height + 80, screen.height() * 9 / 10);
  resize(width, std::max(height, 200));
}

DerivedRunDialog::~DerivedRunDialog() { watcher_.waitForFinished(); }

void DerivedRunDialog::reject() {
  if (!running()) QDialog::reject();
}

void DerivedRunDialog::updateEnabled() {
  const bool idle = !running() && created_run_.isEmpty();
  for (QWidget* w : findChildren<QGroupBox*>()) w->setEnabled(idle);
  if (prune_) {
    min_share_->setEnabled(below_share_->isChecked());
    remove_->setEnabled(remove_count_->isChecked());
  } else {
    top_k_->setEnabled(routing_->currentText() == "topk");
  }
  create_->setEnabled(idle);
  close_->setEnabled(!running());
}

void DerivedRunDialog::create() {
  if (running()) return;
  DerivedRunOptions o;
  o.source = source_.toStdString();
  o.out_dir = out_->text().trimmed().toStdString();
  o.finetune_steps = steps_->value();
  PruneRequest request;
  if (prune_) {
    if (below_share_->isChecked())
      request.min_share = min_share_->value();
    else
      request.remove = remove_->value();
    request.ranking = ranking_->currentIndex() == 1 ? PruneRanking::loss : PruneRanking::share;
  } else {
    o.overrides = {{"n_experts", std::to_string(experts_->value())},
                   {"routing", routing_->currentText().toStdString()}};
    if (routing_->currentText() == "topk") o.overrides["top_k"] = std::to_string(top_k_->value());
  }
  const bool prune = prune_;
  const UpcycleMethod method = !prune && method_->currentIndex() == 1 ? UpcycleMethod::copy : UpcycleMethod::partition;
  report_->clear();
  progress_->setValue(0);
  progress_->show();
  progress_label_->setText("Opening the source run…");
  watcher_.setFuture(QtConcurrent::run([this, o, request, prune, method] {
    Outcome out;
    const DerivedRunProgress progress = [this](const std::string& what, int64_t done, int64_t total) {
      Q_EMIT progressed(QString::fromStdString(what), done, total);  // queued to the dialog's thread
    };
    try {
      out.report = prune ? make_pruned_run(o, request, progress) : make_upcycled_run(o, method, progress);
    } catch (const ConfigError& e) {
      out.error = QString::fromStdString(e.what()).trimmed();
    } catch (const std::exception& e) {
      out.error = QString::fromStdString(e.what());
    }
    return out;
  }));
  updateEnabled();
}

void DerivedRunDialog::finish() {
  const Outcome out = watcher_.result();
  progress_->hide();
  progress_label_->clear();
  if (!out.error.isEmpty()) {
    report_->setText("<span style='color:#c0392b'>" + out.error.toHtmlEscaped().replace("\n", "<br>") + "</span>");
    updateEnabled();
    fitToContent();
    Q_EMIT failed(out.error);
    return;
  }
  report_data_ = out.report;
  report_->setText(reportText());
  created_run_ = QString::fromStdString(out.report.out_dir);
  updateEnabled();
  fine_tune_->show();
  fine_tune_->setDefault(true);
  fitToContent();  // the report's lines need the room
  Q_EMIT created(created_run_);
}

QString DerivedRunDialog::reportText() const {
  const DerivedRunReport& r = report_data_;
  const QLocale locale;
  QString text = QString("<b>%1</b><br>Validation loss %2 → %3 (%4) before fine-tuning; parameters %5 → %6.")
                     .arg(QString::fromStdString(r.summary).toHtmlEscaped())
                     .arg(r.val_before, 0, 'f', 4)
                     .arg(r.val_after, 0, 'f', 4)
                     .arg(QString::asprintf("%+.4f", r.val_after - r.val_before))
                     .arg(locale.toString(static_cast<qlonglong>(r.parameters_before)),
                          locale.toString(static_cast<qlonglong>(r.parameters_after)));
  for (size_t l = 0; l < r.plan.removed.size(); ++l) {
    QStringList shares;
    for (size_t e = 0; e < r.plan.share[l].size(); ++e) {
      const bool gone =
          std::find(r.plan.removed[l].begin(), r.plan.removed[l].end(), static_cast<int>(e)) != r.plan.removed[l].end();
      const QString cell = QString("E%1 %2").arg(e).arg(r.plan.share[l][e], 0, 'f', 3);
      shares << (gone ? "<s>" + cell + "</s>" : cell);
    }
    text += QString("<br>Layer %1: %2").arg(l).arg(shares.join(" · "));
  }
  for (const auto& note : r.plan.notes) text += "<br><i>" + QString::fromStdString(note).toHtmlEscaped() + "</i>";
  text += QString("<br>New run: %1").arg(QString::fromStdString(r.out_dir).toHtmlEscaped());
  return text;
}

}  // namespace moewb
