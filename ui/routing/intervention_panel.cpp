#include "ui/routing/intervention_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/runs/run_summary.h"
#include "ui/export/exportable_figure.h"
#include "ui/render/loss_change_figure.h"
#include "ui/render/table_figure.h"
#include "ui/routing/routing_reading_view.h"

namespace moewb {

namespace {
constexpr int kValidationBatches = 20;  // per side, the same batches (seeded) before and after
constexpr int kGeneratedChars = 300;
constexpr uint64_t kSeed = 1337;

InterventionResult compare(const InferenceModel& model, const Intervention& iv, const std::string& text,
                           const std::string& dataset) {
  InterventionResult r;
  r.intervention = iv;
  try {
    const InferenceModel changed = model.intervened(iv);
    if (!dataset.empty()) {
      const TextDataset data = TextDataset::from_file(dataset);
      r.batches = kValidationBatches;
      r.val_before = model.loss(data, true, r.batches, kSeed);
      r.val_after = changed.loss(data, true, r.batches, kSeed);
    }
    r.text = decode_utf8(text);
    r.before = model.char_losses(text);
    r.after = changed.char_losses(text);
    r.classes = compare_losses(r.text, r.before, r.after);
    GenerationOptions g;
    g.length = kGeneratedChars;
    g.seed = kSeed;
    r.generated_before = model.generate("", g);
    r.generated_after = changed.generate("", g);
  } catch (const std::exception& e) {
    r.error = QString::fromUtf8(e.what());
  }
  return r;
}

QPlainTextEdit* text_box(const QString& placeholder) {
  auto* box = new QPlainTextEdit;
  box->setReadOnly(true);
  box->setPlaceholderText(placeholder);
  return box;
}
}  // namespace

InterventionPanel::InterventionPanel(QWidget* parent) : QWidget(parent) {
  register_meta_types();
  layer_ = new QComboBox;
  kind_ = new QComboBox;
  kind_->addItems({"disable expert", "send every token to expert"});
  kind_->setToolTip("Disable: the expert leaves the layer's routing (softmax renormalises over the others, top-k "
                    "picks among them, a sigmoid gate closes, hash leaves its tokens without one).\nForce: every "
                    "token of the layer goes to one expert with weight 1.");
  expert_ = new QComboBox;
  apply_ = new QPushButton("Apply");
  apply_->setObjectName("apply_intervention");
  apply_->setToolTip("Compare the model with and without this intervention (the checkpoint is never modified).");
  status_ = new QLabel;
  status_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  summary_ = new QLabel("Choose a layer and an expert, then Apply: the validation loss, the loss per character "
                        "class, each character's loss change and generated text are compared.");
  summary_->setWordWrap(true);
  classes_ = new QTableWidget(0, 6);
  classes_->setObjectName("intervention_classes");
  classes_->setHorizontalHeaderLabels({"Characters", "Count", "Share", "Loss before", "Loss after", "Change"});
  classes_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  classes_->verticalHeader()->hide();
  classes_->verticalHeader()->setDefaultSectionSize(22);
  classes_->horizontalHeader()->setStretchLastSection(true);
  loss_view_ = new RoutingReadingView;
  loss_view_->setObjectName("loss_change_view");
  loss_view_->setPlaceholder("After Apply, the text shown in the Heatmap tab appears here, each character coloured "
                             "by how the intervention changed its loss.");
  loss_view_->setToolTip("The shown text, each character coloured by how its loss changed: red = worse, blue = "
                         "better; hover for the numbers.");
  generated_before_ = text_box("Generated as trained (seed 1337)");
  generated_after_ = text_box("Generated with the intervention (same seed)");

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel("Layer"));
  controls->addWidget(layer_);
  controls->addWidget(kind_);
  controls->addWidget(expert_);
  controls->addWidget(apply_);
  controls->addWidget(status_, 1);
  auto* generated = new QSplitter(Qt::Horizontal);
  generated->addWidget(generated_before_);
  generated->addWidget(generated_after_);
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(classes_);
  split->addWidget(loss_view_);
  split->addWidget(generated);
  split->setStretchFactor(0, 0);  // the table is short: the coloured text and the generated texts get the room
  split->setStretchFactor(1, 3);
  split->setStretchFactor(2, 2);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addWidget(summary_);
  layout->addWidget(split, 1);

  connect(apply_, &QPushButton::clicked, this, [this] {
    if (watcher_.isRunning()) return;
    status_->setText("waiting for the model…");
    Q_EMIT modelRequested();
  });
  connect(&watcher_, &QFutureWatcher<InterventionResult>::finished, this, [this] { display(watcher_.result()); });
  new FigureSource(loss_view_, [this] { return lossChangeFigure(); });
  new FigureSource(classes_, [this] { return classTableFigure(); });
}

std::unique_ptr<Figure> InterventionPanel::lossChangeFigure() const {
  const InterventionResult& r = result_;
  LossChange data;
  data.intervention = QString::fromStdString(r.intervention.describe());
  data.title = "Loss change per character: " + data.intervention;
  QStringList subtitle;
  if (!run_name_.isEmpty()) subtitle << "run " + run_name_;
  if (r.batches > 0)
    subtitle << QString("validation loss %1 → %2 on %3 batches").arg(r.val_before, 0, 'f', 4).arg(r.val_after, 0, 'f', 4)
                    .arg(r.batches);
  subtitle << QString("%1 characters, mean change %2%3 nats")
                  .arg(r.classes.all.characters)
                  .arg(r.classes.all.delta() >= 0 ? "+" : "")
                  .arg(r.classes.all.delta(), 0, 'f', 4);
  data.subtitle = subtitle.join(" · ");
  data.text = r.text, data.before = r.before, data.after = r.after;
  return std::make_unique<LossChangeFigure>(std::move(data));
}

std::unique_ptr<Figure> InterventionPanel::classTableFigure() const {
  Table table;
  for (int c = 0; c < classes_->columnCount(); ++c)
    table.header.push_back(classes_->horizontalHeaderItem(c)->text().toStdString());
  for (int r = 0; r < classes_->rowCount(); ++r) {
    std::vector<std::string> row;
    for (int c = 0; c < classes_->columnCount(); ++c) row.push_back(classes_->item(r, c)->text().toStdString());
    table.rows.push_back(row);
  }
  const QString title = "Loss per character class: " + QString::fromStdString(result_.intervention.describe());
  return std::make_unique<TableFigure>("intervention_classes", run_name_.isEmpty() ? title : title + " (run " + run_name_ + ")",
                                       table);
}

InterventionPanel::~InterventionPanel() { watcher_.waitForFinished(); }

void InterventionPanel::reset(const Config& config) {
  config_ = config;
  layer_->clear();
  expert_->clear();
  const int layers = config.is_moe() ? config.n_layer : 0;
  for (int l = 0; l < layers; ++l) layer_->addItem(QString("%1").arg(l));
  for (int e = 0; config.is_moe() && e < config.n_experts; ++e) expert_->addItem(QString("E%1").arg(e));
  layer_->setCurrentIndex(layers - 1);
  apply_->setEnabled(layers > 0);
}

void InterventionPanel::setText(const QString& text) { text_ = text; }

void InterventionPanel::setStatus(const QString& text) { status_->setText(text); }

QString InterventionPanel::status() const { return status_->text(); }

void InterventionPanel::setDatasetPath(const QString& path) { dataset_path_ = path; }

void InterventionPanel::setIntervention(const Intervention& iv) {
  layer_->setCurrentIndex(iv.layer);
  kind_->setCurrentIndex(iv.force >= 0 ? 1 : 0);
  expert_->setCurrentIndex(iv.force >= 0 ? iv.force : iv.disable);
}

Intervention InterventionPanel::intervention() const {
  Intervention iv;
  iv.layer = layer_->currentIndex();
  (kind_->currentIndex() == 1 ? iv.force : iv.disable) = expert_->currentIndex();
  return iv;
}

void InterventionPanel::runWith(const InferenceModel& model) {
  if (watcher_.isRunning()) return;
  if (text_.isEmpty()) {
    status_->setText("Trace a text in the Heatmap tab first: its characters are compared.");
    return;
  }
  status_->setText("comparing…");
  apply_->setEnabled(false);
  watcher_.setFuture(QtConcurrent::run(compare, model, intervention(), text_.toStdString(), dataset_path_.toStdString()));
}

void InterventionPanel::display(const InterventionResult& r) {
  apply_->setEnabled(true);
  if (!r.error.isEmpty()) {
    status_->setText("Cannot intervene: " + r.error);
    return;
  }
  result_ = r;
  status_->clear();
  QString summary = QString("<b>%1</b>").arg(QString::fromStdString(r.intervention.describe()).toHtmlEscaped());
  if (r.batches > 0)
    summary += QString(" — validation loss %1 → %2 (%3%4) on the same %5 batches")
                   .arg(r.val_before, 0, 'f', 4)
                   .arg(r.val_after, 0, 'f', 4)
                   .arg(r.val_after >= r.val_before ? "+" : "")
                   .arg(r.val_after - r.val_before, 0, 'f', 4)
                   .arg(r.batches);
  summary_->setText(summary);
  classes_->setRowCount(0);
  auto add_row = [this](const QString& name, const LossComparison::Row& row) {
    if (row.characters == 0) return;
    const int at = classes_->rowCount();
    classes_->insertRow(at);
    const QStringList cells = {name,
                               QString::number(row.characters),
                               QString("%1%").arg(100 * row.share, 0, 'f', 1),
                               QString::number(row.base, 'f', 4),
                               QString::number(row.changed, 'f', 4),
                               QString("%1%2").arg(row.delta() >= 0 ? "+" : "").arg(row.delta(), 0, 'f', 4)};
    for (int c = 0; c < cells.size(); ++c) classes_->setItem(at, c, new QTableWidgetItem(cells[c]));
  };
  for (int c = 0; c < kCharClasses; ++c)
    add_row(char_class_name(static_cast<CharClass>(c)), r.classes.classes[static_cast<size_t>(c)]);
  add_row("all", r.classes.all);
  classes_->resizeColumnsToContents();
  RoutingTrace text_only;
  text_only.text = r.text;
  loss_view_->setTrace(text_only);
  loss_view_->setLossChange(r.before, r.after);
  generated_before_->setPlainText(QString::fromStdString(r.generated_before));
  generated_after_->setPlainText(QString::fromStdString(r.generated_after));
  Q_EMIT finished();
}

}  // namespace moewb
