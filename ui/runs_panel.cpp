#include "runs_panel.h"

#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>
#include <functional>

#include "figure_export.h"
#include "files.h"
#include "palette.h"
#include "suite.h"

namespace moewb {

namespace {

// Sorts by the number it holds, shows it formatted.
class NumberItem : public QTableWidgetItem {
 public:
  NumberItem(double value, int digits) : QTableWidgetItem(std::isnan(value) ? "—" : QString::number(value, 'f', digits)) {
    setData(Qt::UserRole, value);
    setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  }
  bool operator<(const QTableWidgetItem& other) const override {
    const double a = data(Qt::UserRole).toDouble(), b = other.data(Qt::UserRole).toDouble();
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
    return a < b;
  }
};

void fill(QTableWidget* t, const Table& table) {
  t->clear();
  t->setColumnCount(static_cast<int>(table.header.size()));
  t->setRowCount(static_cast<int>(table.rows.size()));
  QStringList header;
  for (const auto& h : table.header) header << QString::fromStdString(h);
  t->setHorizontalHeaderLabels(header);
  for (size_t r = 0; r < table.rows.size(); ++r)
    for (size_t c = 0; c < table.rows[r].size(); ++c)
      t->setItem(static_cast<int>(r), static_cast<int>(c), new QTableWidgetItem(QString::fromStdString(table.rows[r][c])));
  t->resizeColumnsToContents();
}

QTableWidget* read_only_table() {
  auto* t = new QTableWidget;
  t->setEditTriggers(QAbstractItemView::NoEditTriggers);
  t->verticalHeader()->hide();
  t->verticalHeader()->setDefaultSectionSize(22);
  t->horizontalHeader()->setStretchLastSection(true);
  return t;
}

// Hands a table widget's export menu the table it shows, as a figure.
class TableExport : public QObject, public ExportableFigure {
 public:
  TableExport(QWidget* table, std::function<TableFigure()> figure) : QObject(table), figure_(std::move(figure)) {
    install_export_menu(table, this);
  }
  std::unique_ptr<Figure> exportFigure() const override { return std::make_unique<TableFigure>(figure_()); }

 private:
  std::function<TableFigure()> figure_;
};

const char* kColumns[] = {"Run", "Kind", "Steps", "Best val", "Time (s)", "Train tok/s", "Gen chars/s",
                          "Final train", "Final val", "Gap", "Dropped", "Entropy"};

}  // namespace

RunsPanel::RunsPanel(QWidget* parent) : QWidget(parent), worker_(new SuiteWorker) {
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  thread_.setObjectName("suite");
  thread_.start();

  table_ = read_only_table();
  table_->setObjectName("runs_table");
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  table_->setSortingEnabled(true);
  table_->setToolTip("Runs in the runs directory; select several to overlay and compare them. Click a header to sort.");
  comparison_ = read_only_table();
  comparison_->setObjectName("comparison_table");
  paper_ = read_only_table();
  fill(paper_, paper_table());
  new TableExport(comparison_, [this] { return comparisonFigure(); });
  new TableExport(paper_, [this] { return paperFigure(); });
  loss_overlay_ = new LineChart("Validation loss of the selected runs");
  loss_overlay_->describe("compare_val_loss", "validation loss (nats)", "validation cross-entropy (nats)");
  entropy_overlay_ = new LineChart("Mean load entropy of the selected runs");
  entropy_overlay_->describe("compare_load_entropy", "load entropy H(f)/log N",
                             "H(f)/log N averaged over the MoE layers (1 = balanced)");

  auto button = [](const QString& text, const QString& tip) {
    auto* b = new QPushButton(text);
    b->setToolTip(tip);
    return b;
  };
  auto* refresh_button = button("Refresh", "Re-read the runs directory");
  open_ = button("Open", "Open the selected run in the main window (config, charts, routing; Resume continues it)");
  suite_ = button("Run paper experiment",
                  "Train the reference paper's five runs with the current configuration as base: dense, softmax "
                  "MoE (N=4), top-2, top-2 with capacity 0.5 and 1.0; same seed and data, one after another.");
  continue_ = button("Continue suite", "Continue the unfinished suite where it stopped");
  stop_ = button("Stop suite", "Stop after the current step; Continue suite picks it up later");
  export_ = button("Export table…", "Save the comparison of the selected runs as CSV, Markdown or LaTeX");
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  progress_label_ = new QLabel;

  auto* buttons = new QHBoxLayout;
  for (auto* b : {refresh_button, open_, suite_, continue_, stop_, export_}) buttons->addWidget(b);
  buttons->addWidget(progress_, 1);
  buttons->addWidget(progress_label_);

  auto* compare_page = new QWidget;
  auto* compare_layout = new QVBoxLayout(compare_page);
  compare_layout->addWidget(new QLabel("Selected runs (percentages relative to the dense run):"));
  compare_layout->addWidget(comparison_, 2);
  compare_layout->addWidget(new QLabel("The paper's published numbers (its GPU, d x d linear experts, 5000 iterations):"));
  compare_layout->addWidget(paper_, 2);
  auto* overlay_page = new QWidget;
  auto* overlay_layout = new QHBoxLayout(overlay_page);
  overlay_layout->addWidget(loss_overlay_);
  overlay_layout->addWidget(entropy_overlay_);
  auto* tabs = new QTabWidget;
  tabs->addTab(overlay_page, "Overlay");
  tabs->addTab(compare_page, "Comparison table");
  auto* split = new QSplitter(Qt::Horizontal);
  split->addWidget(table_);
  split->addWidget(tabs);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(buttons);
  layout->addWidget(split, 1);

  connect(refresh_button, &QPushButton::clicked, this, &RunsPanel::refresh);
  connect(open_, &QPushButton::clicked, this, [this] {
    const QStringList runs = selectedRuns();
    if (!runs.isEmpty()) Q_EMIT openRunRequested(runs.first());
  });
  connect(table_, &QTableWidget::itemSelectionChanged, this, &RunsPanel::updateSelection);
  connect(table_, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
    Q_EMIT openRunRequested(table_->item(row, 0)->data(Qt::UserRole).toString());
  });
  connect(suite_, &QPushButton::clicked, this, &RunsPanel::suiteRequested);
  connect(continue_, &QPushButton::clicked, this, [this] { continueSuite(unfinishedSuite()); });
  connect(stop_, &QPushButton::clicked, this, &RunsPanel::stopSuite);
  connect(export_, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, "Export comparison", QDir(runs_dir_).filePath("comparison.md"),
                                                      "Markdown (*.md);;LaTeX (*.tex);;CSV (*.csv)");
    if (path.isEmpty()) return;
    try {
      exportComparison(path);
    } catch (const std::exception& e) {
      QMessageBox::warning(this, "Export failed", e.what());
    }
  });
  connect(worker_, &SuiteWorker::progress, this, [this](double fraction, const QString& text) {
    progress_->setValue(static_cast<int>(fraction * 1000));
    progress_label_->setText(text);
  });
  connect(worker_, &SuiteWorker::variantFinished, this, [this] { refresh(); });
  connect(worker_, &SuiteWorker::finished, this, [this](bool complete) {
    setSuiteRunning(false);
    progress_label_->setText(complete ? "Suite complete" : "Suite stopped: Continue suite picks it up");
    refresh();
  });
  connect(worker_, &SuiteWorker::failed, this, [this](const QString& m) {
    setSuiteRunning(false);
    Q_EMIT message("The suite failed: " + m);
  });
  setSuiteRunning(false);
}

RunsPanel::~RunsPanel() {
  worker_->requestStop();
  thread_.quit();
  thread_.wait();
}

void RunsPanel::setRunsDirectory(const QString& dir) {
  runs_dir_ = dir;
  refresh();
}

void RunsPanel::refresh() {
  const QStringList keep = selectedRuns();
  runs_.clear();
  metrics_cache_.clear();
  QStringList dirs;
  const QDir root(runs_dir_);
  for (const QString& name : root.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name)) {
    const QString path = root.filePath(name);
    if (QFileInfo::exists(path + "/config.json")) dirs << path;
    if (QFileInfo::exists(path + "/suite.json"))
      for (const QString& sub : QDir(path).entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name))
        if (QFileInfo::exists(path + "/" + sub + "/config.json")) dirs << path + "/" + sub;
  }
  for (const QString& d : dirs) {
    try {
      RunSummary s = summarize_run(d.toStdString());
      s.name = QDir(runs_dir_).relativeFilePath(d).toStdString();
      runs_ << s;
    } catch (const std::exception& e) {
      Q_EMIT message(QString("Skipped %1: %2").arg(d, e.what()));
    }
  }
  table_->setSortingEnabled(false);
  table_->clearContents();
  table_->setColumnCount(static_cast<int>(std::size(kColumns)));
  table_->setRowCount(runs_.size());
  QStringList header;
  for (const char* c : kColumns) header << c;
  table_->setHorizontalHeaderLabels(header);
  for (int r = 0; r < runs_.size(); ++r) {
    const RunSummary& s = runs_[r];
    auto* name = new QTableWidgetItem(QString::fromStdString(s.name));
    name->setData(Qt::UserRole, QString::fromStdString(s.dir));
    name->setToolTip(QString::fromStdString(s.dir));
    table_->setItem(r, 0, name);
    table_->setItem(r, 1, new QTableWidgetItem(QString::fromStdString(s.kind())));
    auto* steps = new NumberItem(s.last_step, 0);
    steps->setText(QString("%1 / %2").arg(s.last_step).arg(s.config.max_iters));
    table_->setItem(r, 2, steps);
    int c = 3;
    for (auto [v, digits] : std::initializer_list<std::pair<double, int>>{
             {s.best_val, 4}, {s.training_time_s, 1}, {s.train_tokens_per_sec, 0}, {s.generation_tokens_per_sec, 0},
             {s.final_train, 3}, {s.final_val, 3}, {s.gap(), 3}, {s.mean_dropped, 3}, {s.mean_load_entropy, 3}})
      table_->setItem(r, c++, new NumberItem(v, digits));
  }
  table_->setSortingEnabled(true);
  table_->resizeColumnsToContents();
  selectRuns(keep);
  continue_->setEnabled(!suite_running_ && !unfinishedSuite().isEmpty());
  updateSelection();
}

void RunsPanel::selectRuns(const QStringList& dirs) {
  table_->clearSelection();
  table_->setSelectionMode(QAbstractItemView::MultiSelection);
  for (int r = 0; r < table_->rowCount(); ++r)
    if (dirs.contains(table_->item(r, 0)->data(Qt::UserRole).toString())) table_->selectRow(r);
  table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
}

QStringList RunsPanel::selectedRuns() const {
  QStringList dirs;
  for (int r = 0; r < table_->rowCount(); ++r)
    if (table_->item(r, 0) && table_->item(r, 0)->isSelected()) dirs << table_->item(r, 0)->data(Qt::UserRole).toString();
  return dirs;
}

void RunsPanel::updateSelection() {
  const QStringList dirs = selectedRuns();
  open_->setEnabled(!dirs.isEmpty());
  export_->setEnabled(!dirs.isEmpty());
  loss_overlay_->removeAllSeries();
  entropy_overlay_->removeAllSeries();
  std::vector<RunSummary> selected;
  int i = 0;
  for (const RunSummary& s : runs_) {
    const QString dir = QString::fromStdString(s.dir);
    if (!dirs.contains(dir)) continue;
    selected.push_back(s);
    if (!metrics_cache_.contains(dir)) {
      try {
        metrics_cache_[dir] = parse_metrics_csv(read_file(s.dir + "/metrics.csv"));
      } catch (const std::exception&) {
        continue;
      }
    }
    const MetricsTable& t = metrics_cache_[dir];
    const auto& steps = t.column("step");
    QList<QPointF> val, entropy;
    for (size_t row = 0; row < t.rows(); ++row) {
      if (!std::isnan(t.column("val_loss")[row])) val << QPointF(steps[row], t.column("val_loss")[row]);
      if (!s.config.is_moe()) continue;
      double sum = 0;
      bool have = true;
      for (int l = 0; l < s.config.n_layer; ++l) {
        const double v = t.column("L" + std::to_string(l) + "_load_entropy")[row];
        have = have && !std::isnan(v);
        sum += v;
      }
      if (have) entropy << QPointF(steps[row], sum / s.config.n_layer);
    }
    const QString name = QFileInfo(QString::fromStdString(s.dir)).fileName();  // short: legends stay legible
    loss_overlay_->addSeries(name, expert_color(i));
    loss_overlay_->setPoints(name, val);
    if (!entropy.isEmpty()) {
      entropy_overlay_->addSeries(name, expert_color(i));
      entropy_overlay_->setPoints(name, entropy);
    }
    ++i;
  }
  fill(comparison_, comparison_table(selected));
}

TableFigure RunsPanel::comparisonFigure() const {
  std::vector<RunSummary> selected;
  const QStringList dirs = selectedRuns();
  for (const RunSummary& r : runs_)
    if (dirs.contains(QString::fromStdString(r.dir))) selected.push_back(r);
  return TableFigure("comparison", "Comparison of the selected runs", comparison_table(selected));
}

TableFigure RunsPanel::paperFigure() const {
  return TableFigure("paper_table", "The reference paper's published numbers", paper_table());
}

void RunsPanel::exportComparison(const QString& path) const {
  std::vector<RunSummary> selected;
  for (const RunSummary& s : runs_)
    if (selectedRuns().contains(QString::fromStdString(s.dir))) selected.push_back(s);
  const Table t = comparison_table(selected);
  const QString suffix = QFileInfo(path).suffix().toLower();
  const std::string text = suffix == "csv" ? t.to_csv()
                           : suffix == "tex" ? t.to_latex("Comparison of MoE routing variants")
                                             : t.to_markdown();
  export_figure_data(path, QString::fromStdString(text));
}

QString RunsPanel::unfinishedSuite() const {
  const QDir root(runs_dir_);
  for (const QString& name : root.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name)) {
    const QString path = root.filePath(name);
    if (!QFileInfo::exists(path + "/suite.json")) continue;
    try {
      if (!Suite::open(path.toStdString()).done()) return path;
    } catch (const std::exception&) {
    }
  }
  return {};
}

void RunsPanel::startSuite(const Config& base, const QString& datasetPath) {
  if (suite_running_ || !suite_allowed_) return;
  const QString dir = QDir(runs_dir_).filePath("paper-suite-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss"));
  try {
    Suite::create(dir.toStdString(), base, datasetPath.toStdString());
  } catch (const std::exception& e) {
    Q_EMIT message(QString("Cannot start the paper experiment: %1").arg(e.what()));
    return;
  }
  continueSuite(dir);
}

void RunsPanel::continueSuite(const QString& suiteDir) {
  if (suite_running_ || !suite_allowed_ || suiteDir.isEmpty()) return;
  setSuiteRunning(true);
  progress_->setValue(0);
  QMetaObject::invokeMethod(worker_, [w = worker_, suiteDir] { w->run(suiteDir); }, Qt::QueuedConnection);
}

void RunsPanel::stopSuite() { worker_->requestStop(); }

void RunsPanel::setSuiteAllowed(bool allowed) {
  suite_allowed_ = allowed;
  setSuiteRunning(suite_running_);
}

void RunsPanel::setSuiteRunning(bool on) {
  const bool changed = on != suite_running_;
  suite_running_ = on;
  suite_->setEnabled(!on && suite_allowed_);
  stop_->setEnabled(on);
  continue_->setEnabled(!on && suite_allowed_ && !unfinishedSuite().isEmpty());
  progress_->setVisible(on || progress_->value() > 0);
  if (changed) Q_EMIT suiteRunningChanged(on);
}

}  // namespace moewb
