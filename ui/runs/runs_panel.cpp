#include "ui/runs/runs_panel.h"

#include <QDateTime>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QShortcut>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <cmath>
#include <functional>
#include <utility>

#include "core/base/files.h"
#include "core/runs/metrics_csv.h"
#include "core/runs/run_folder.h"
#include "core/runs/run_lock.h"
#include "core/runs/run_name.h"
#include "core/train/suite.h"
#include "ui/render/figure_export.h"
#include "ui/render/palette.h"
#include "ui/runs/derived_run_dialog.h"

namespace moewb {

namespace {

// Sorts by the number it holds, shows it formatted.
class NumberItem : public QTableWidgetItem {
 public:
  NumberItem(double value, int digits) : QTableWidgetItem(std::isnan(value) ? "—" : QString::number(value, 'f', digits)) {
    setData(Qt::UserRole, value);
    setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    setFlags(flags() & ~Qt::ItemIsEditable);
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


// What tells runs apart first (name, status, progress, best loss, routing), then tags and the measurements; a
// horizontal scroll bar reaches those on a narrow window.
const char* kColumns[] = {"Run",        "Status",   "Steps",       "Best val",    "Kind",        "Tags",
                          "Parameters", "Time (s)", "Train tok/s", "Gen chars/s", "Final train", "Final val",
                          "Gap",        "Dropped",  "Entropy",     "Derived from"};
enum Column { kName, kStatus, kSteps, kBestVal, kKind, kTags, kParameters, kMeasures, kDerivedFrom = kMeasures + 8 };
// The widest a column of names or words gets, in characters ("M"s would be too wide for names): longer cells are
// elided and say all in their tooltip, so the columns after them stay in view.
constexpr int kMaxNameChars = 30, kMaxWordsChars = 18;

QString to_qt(const std::string& s) { return QString::fromStdString(s); }

QStringList to_qt(const std::vector<std::string>& list) {
  QStringList out;
  for (const auto& s : list) out << QString::fromStdString(s);
  return out;
}

// The run folders under the runs directory, in name order: runs, and the runs inside suite folders.
QStringList run_folders(const QString& root_dir) {
  QStringList dirs;
  const QDir root(root_dir);
  for (const QString& name : root.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name)) {
    const QString path = root.filePath(name);
    if (RunFolder(path.toStdString()).holds_run()) dirs << path;
    if (QFileInfo::exists(path + "/suite.json"))
      for (const QString& sub : QDir(path).entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name))
        if (RunFolder((path + "/" + sub).toStdString()).holds_run()) dirs << path + "/" + sub;
  }
  return dirs;
}

QString unfinished_suite_in(const QString& root_dir) {
  const QDir root(root_dir);
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

// QFile::moveToTrash, false where the folder did not reach a trash. Qt 6.4 reports success when it cannot set up
// the home trash (no ~/.local/share) and leaves the folder in files/ under the working directory, naming that
// relative path: it is put back.
bool move_to_trash(const QString& dir) {
  QString where;
  if (!QFile::moveToTrash(dir, &where)) return false;
  if (QFileInfo(where).isAbsolute()) return true;
  QDir().rename(where, dir);
  QDir().rmdir(QFileInfo(where).path());  // the files/ it made, when empty
  return false;
}

// Asks in a message box.
bool ask(QWidget* parent, const QString& question) {
  return QMessageBox::question(parent, "Delete run", question, QMessageBox::Yes | QMessageBox::Cancel,
                               QMessageBox::Cancel) == QMessageBox::Yes;
}

// The name and tags of a run in a small form; false when cancelled.
// `automatic`: the name the run shows while it has none of the user's.
bool edit_name_and_tags(QWidget* parent, const QString& folder, const QString& automatic, QString& name,
                        QStringList& tags) {
  QDialog dialog(parent);
  dialog.setWindowTitle("Name and tags");
  auto* name_edit = new QLineEdit(name);
  name_edit->setPlaceholderText(automatic);
  auto* tags_edit = new QLineEdit(tags.join(", "));
  tags_edit->setPlaceholderText("comma-separated, e.g. baseline, lr sweep");
  auto* form = new QFormLayout(&dialog);
  form->addRow(new QLabel(QString("The folder %1 keeps its name.").arg(folder)));
  form->addRow("Name", name_edit);
  form->addRow("Tags", tags_edit);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  form->addRow(buttons);
  QObject::connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
  QObject::connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  if (dialog.exec() != QDialog::Accepted) return false;
  name = name_edit->text().trimmed();
  tags.clear();
  for (const QString& t : tags_edit->text().split(',', Qt::SkipEmptyParts))
    if (!t.trimmed().isEmpty()) tags << t.trimmed();
  return true;
}

}  // namespace

RunsPanel::RunsPanel(QWidget* parent)
    : QWidget(parent), confirm_([this](const QString& q) { return ask(this, q); }), worker_(new SuiteWorker) {
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  thread_.setObjectName("suite");
  thread_.start();

  buildTables();
  buildOverlays();
  QPushButton* refresh_button = buildButtons();
  buildLayout(refresh_button);
  connectRunActions(refresh_button);
  connectTable();
  connectSuite();
  setSuiteRunning(false);
  updateSelection();
}

void RunsPanel::buildTables() {
  filter_ = new QLineEdit;
  filter_->setObjectName("runs_filter");
  filter_->setPlaceholderText("Filter by name, tag or kind");
  filter_->setClearButtonEnabled(true);
  table_ = read_only_table();
  table_->setObjectName("runs_table");
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  table_->setSortingEnabled(true);
  table_->setEditTriggers(QAbstractItemView::EditKeyPressed);  // F2 renames; a double click opens the run
  table_->setContextMenuPolicy(Qt::CustomContextMenu);
  table_->setToolTip("Runs in the runs directory; select several to overlay and compare them. Click a header to "
                     "sort, F2 renames, right-click for tags and delete.");
  comparison_ = read_only_table();
  comparison_->setObjectName("comparison_table");
  paper_ = read_only_table();
  fill(paper_, paper_table());
  new FigureSource(comparison_, [this] { return std::make_unique<TableFigure>(comparisonFigure()); });
  new FigureSource(paper_, [this] { return std::make_unique<TableFigure>(paperFigure()); });
}

void RunsPanel::buildOverlays() {
  loss_overlay_ = new LineChart("Validation loss of the selected runs");
  loss_overlay_->describe("compare_val_loss", "validation loss (nats)", "validation cross-entropy (nats)");
  entropy_overlay_ = new LineChart("Mean load entropy of the selected runs");
  entropy_overlay_->describe("compare_load_entropy", "load entropy H(f)/log N",
                             "H(f)/log N averaged over the MoE layers (1 = balanced)");
}

QPushButton* RunsPanel::buildButtons() {
  auto button = [](const QString& text, const QString& tip) {
    auto* b = new QPushButton(text);
    b->setToolTip(tip);
    return b;
  };
  auto* refresh_button = button("Refresh", "Re-read the runs directory");
  open_ = button("Open", "Open the selected run in the main window (config, charts, routing; Resume continues it)");
  edit_ = button("Name…", "Name and tag the selected run (kept in its folder's meta.json)");
  delete_ = button("Delete…", "Move the selected runs to the trash (asks first; never a run that is training)");
  suite_ = button("Run paper experiment",
                  "Train the reference paper's five runs with the current configuration as base: dense, softmax "
                  "MoE (N=4), top-2, top-2 with capacity 0.5 and 1.0; same seed and data, one after another.");
  continue_ = button("Continue suite", "Continue the unfinished suite where it stopped");
  stop_ = button("Stop suite", "Stop after the current step; Continue suite picks it up later");
  export_ = button("Export table…", "Save the comparison of the selected runs as CSV, Markdown or LaTeX");
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  progress_label_ = new QLabel;
  return refresh_button;
}

void RunsPanel::buildLayout(QPushButton* refresh_button) {
  // two rows, so that the tab fits 960 pixels (1920 at 200 %): the paper experiment with its progress, then the
  // filter beside what to do with the selected runs
  auto* suite_row = new QHBoxLayout;
  for (auto* b : {suite_, continue_, stop_}) suite_row->addWidget(b);
  suite_row->addWidget(progress_, 1);
  suite_row->addWidget(progress_label_);
  suite_row->addStretch();
  auto* runs_row = new QHBoxLayout;
  runs_row->addWidget(filter_, 1);
  for (auto* b : {refresh_button, open_, edit_, delete_, export_}) runs_row->addWidget(b);

  QTabWidget* tabs = buildComparisonTabs();
  auto* runs_page = new QWidget;
  auto* runs_layout = new QVBoxLayout(runs_page);
  runs_layout->setContentsMargins(0, 0, 0, 0);
  runs_layout->addLayout(runs_row);
  runs_layout->addWidget(table_, 1);
  // the table above the overlays: beside them, a 1280-pixel window left it two columns
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(runs_page);
  split->addWidget(tabs);
  split->setStretchFactor(0, 2);
  split->setStretchFactor(1, 3);
  split->setSizes({2, 3});  // weights: the charts' size hints would leave the table three rows
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(suite_row);
  layout->addWidget(split, 1);
}

QTabWidget* RunsPanel::buildComparisonTabs() {
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
  return tabs;
}

void RunsPanel::connectRunActions(QPushButton* refresh_button) {
  auto* delete_key = new QShortcut(QKeySequence::Delete, table_, nullptr, nullptr, Qt::WidgetShortcut);
  connect(delete_key, &QShortcut::activated, this, &RunsPanel::deleteSelected);
  connect(refresh_button, &QPushButton::clicked, this, &RunsPanel::refresh);
  connect(open_, &QPushButton::clicked, this, [this] {
    const QStringList runs = selectedRuns();
    if (!runs.isEmpty()) Q_EMIT openRunRequested(runs.first());
  });
  connect(edit_, &QPushButton::clicked, this, &RunsPanel::editSelected);
  connect(delete_, &QPushButton::clicked, this, &RunsPanel::deleteSelected);
  connect(filter_, &QLineEdit::textChanged, this, &RunsPanel::setFilter);
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
}

void RunsPanel::connectTable() {
  connect(table_, &QWidget::customContextMenuRequested, this, &RunsPanel::showContextMenu);
  connect(table_, &QTableWidget::itemSelectionChanged, this, &RunsPanel::updateSelection);
  connect(table_, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
    Q_EMIT openRunRequested(table_->item(row, kName)->data(Qt::UserRole).toString());
  });
  // the Name cell edited in place (F2): the table's own fills happen with its signals blocked
  connect(table_, &QTableWidget::itemChanged, this, [this](QTableWidgetItem* item) {
    if (item->column() != kName) return;
    const QString dir = item->data(Qt::UserRole).toString();
    if (item->text() != displayName(dir)) setRunMeta(dir, item->text().trimmed(), tags(dir));
  });
}

void RunsPanel::connectSuite() {
  connect(suite_, &QPushButton::clicked, this, &RunsPanel::suiteRequested);
  connect(continue_, &QPushButton::clicked, this, [this] { continueSuite(unfinishedSuite()); });
  connect(stop_, &QPushButton::clicked, this, &RunsPanel::stopSuite);
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

// ---------------------------------------------------------------------------------------------------
// Reading the runs directory (worker thread: no widgets, no members)

RunsPanel::Run RunsPanel::readRun(const QString& root, const QString& dir) {
  Run run{summarize_run(dir.toStdString()), {}, {}};
  RunSummary& s = run.summary;
  s.name = QDir(root).relativeFilePath(dir).toStdString();
  for (const MetricsRow& row : metrics_rows(RunFolder(s.dir).read_metrics(), s.config)) {
    if (!std::isnan(row.val_loss)) run.val_loss << QPointF(row.step, row.val_loss);
    if (row.layers.empty()) continue;
    double sum = 0;
    for (const LayerMetrics& layer : row.layers) sum += layer.load_entropy;
    if (!std::isnan(sum)) run.load_entropy << QPointF(row.step, sum / static_cast<double>(row.layers.size()));
  }
  return run;
}

RunsPanel::Scan RunsPanel::scan(const QString& root, const QStringList& dirs) {
  Scan result;
  for (const QString& d : dirs) {
    try {
      result.runs << readRun(root, d);
    } catch (const std::exception& e) {
      result.skipped << QString("%1: %2").arg(d, e.what());
    }
  }
  return result;
}

RunsPanel::Scan RunsPanel::scanDirectory(const QString& root) {
  Scan result = scan(root, run_folders(root));
  result.unfinished_suite = unfinished_suite_in(root);
  return result;
}

void RunsPanel::refreshRun(const QString& dir) {
  // not in the table yet, or a scan under way may have read it before it changed (and would show that after
  // this): the directory is read again
  if (!find(dir) || scanning_) {
    refresh();
    return;
  }
  auto* watcher = new QFutureWatcher<Scan>(this);
  connect(watcher, &QFutureWatcher<Scan>::finished, this, [this, watcher, dir] {
    const Scan result = watcher->result();
    watcher->deleteLater();
    if (result.runs.isEmpty()) {  // gone or unreadable now: the whole directory says what is left
      for (const QString& why : result.skipped) Q_EMIT message("Skipped " + why);
      refresh();
      return;
    }
    showRun(result.runs.front());
  });
  watcher->setFuture(QtConcurrent::run(&RunsPanel::scan, runs_dir_, QStringList{dir}));
}

void RunsPanel::showRun(const Run& run) {
  const QString dir = to_qt(run.summary.dir);
  Run* shown = find(dir);
  if (!shown) return;  // a scan meanwhile no longer lists it
  *shown = run;
  const QSignalBlocker quiet(table_);
  table_->setSortingEnabled(false);  // the row must not move while its cells are replaced
  for (int r = 0; r < table_->rowCount(); ++r)
    if (table_->item(r, kName)->data(Qt::UserRole).toString() == dir) fillRow(r, run.summary);
  table_->setSortingEnabled(true);
  setFilter(filter_->text());
  updateSelection();  // its curves in the overlays
}

void RunsPanel::refresh() {
  if (scanning_) {
    rescan_ = true;  // the running scan may have listed the folder before the change that asked for this one
    return;
  }
  scanning_ = true;
  auto* watcher = new QFutureWatcher<Scan>(this);
  connect(watcher, &QFutureWatcher<Scan>::finished, this, [this, watcher] {
    const Scan result = watcher->result();
    watcher->deleteLater();
    scanning_ = false;
    show(result);
    if (std::exchange(rescan_, false)) refresh();
    else Q_EMIT refreshed();
  });
  watcher->setFuture(QtConcurrent::run(&RunsPanel::scanDirectory, runs_dir_));
}

void RunsPanel::show(const Scan& scan) {
  for (const QString& why : scan.skipped) Q_EMIT message("Skipped " + why);
  const QStringList keep = selectedRuns();
  runs_ = scan.runs;
  unfinished_suite_ = scan.unfinished_suite;
  for (const Run& r : runs_)
    if (!colour_index_.contains(to_qt(r.summary.dir))) colour_index_.insert(to_qt(r.summary.dir), colour_index_.size());
  const QSignalBlocker quiet(table_);  // neither in-place renames nor a selection per row while filling
  table_->setSortingEnabled(false);
  table_->clearContents();
  table_->setColumnCount(static_cast<int>(std::size(kColumns)));
  table_->setRowCount(runs_.size());
  QStringList header;
  for (const char* c : kColumns) header << c;
  table_->setHorizontalHeaderLabels(header);
  for (int r = 0; r < runs_.size(); ++r) fillRow(r, runs_[r].summary);
  table_->setSortingEnabled(true);
  fitColumns();
  setFilter(filter_->text());
  selectRuns(keep);
  continue_->setEnabled(!suite_running_ && suite_allowed_ && !unfinished_suite_.isEmpty());
  updateSelection();
}

void RunsPanel::fillRow(int r, const RunSummary& s) {
  const QString dir = to_qt(s.dir);
  auto* name = new QTableWidgetItem(displayName(dir));
  name->setData(Qt::UserRole, dir);
  name->setData(Qt::DecorationRole, runColor(dir));  // the run's colour in the overlays
  name->setToolTip(displayName(dir) + "\n" + dir);   // whole, where the column elides it
  name->setFlags(name->flags() | Qt::ItemIsEditable);
  table_->setItem(r, kName, name);
  auto cell = [](const QString& text) {
    auto* item = new QTableWidgetItem(text);
    item->setFlags(item->flags() & ~Qt::ItemIsEditable);
    item->setToolTip(text);
    return item;
  };
  table_->setItem(r, kTags, cell(to_qt(s.meta.tags).join(", ")));
  table_->setItem(r, kKind, cell(to_qt(s.kind())));
  QString status = to_qt(name_of(s.status));
  if (s.ranks > 1) status += QString(" · %1 ranks").arg(s.ranks) + (s.experts_split ? ", experts split" : "");
  table_->setItem(r, kStatus, cell(status));
  auto* steps = new NumberItem(s.last_step, 0);
  steps->setText(QString("%1 / %2").arg(s.last_step).arg(s.config.max_iters));
  table_->setItem(r, kSteps, steps);
  table_->setItem(r, kBestVal, new NumberItem(s.best_val, 4));
  auto* parameters = new NumberItem(s.parameters > 0 ? static_cast<double>(s.parameters) : NAN, 0);
  if (s.parameters > 0) parameters->setText(QLocale().toString(static_cast<qlonglong>(s.parameters)));
  table_->setItem(r, kParameters, parameters);
  table_->setItem(r, kDerivedFrom, cell(to_qt(s.derived_from)));
  int c = kMeasures;
  for (auto [v, digits] : std::initializer_list<std::pair<double, int>>{
           {s.training_time_s, 1}, {s.train_tokens_per_sec, 0}, {s.generation_tokens_per_sec, 0},
           {s.final_train, 3}, {s.final_val, 3}, {s.gap(), 3}, {s.mean_dropped, 3}, {s.mean_load_entropy, 3}})
    table_->setItem(r, c++, new NumberItem(v, digits));
}

// Every column as wide as its contents, except that names and words stop at a few dozen characters.
void RunsPanel::fitColumns() {
  table_->resizeColumnsToContents();
  const QFontMetrics m(table_->font());
  const int decoration = table_->iconSize().width() + m.horizontalAdvance("  ");  // the colour swatch and padding
  for (auto [column, chars] : {std::pair{kName, kMaxNameChars}, {kKind, kMaxWordsChars}, {kTags, kMaxWordsChars},
                               {kStatus, kMaxWordsChars}, {kDerivedFrom, kMaxNameChars}}) {
    const int most = m.averageCharWidth() * chars + (column == kName ? decoration : 0);
    if (table_->columnWidth(column) > most) table_->setColumnWidth(column, most);
  }
}

// ---------------------------------------------------------------------------------------------------
// Names, tags, filter, colours, delete

RunsPanel::Run* RunsPanel::find(const QString& dir) {
  for (Run& r : runs_)
    if (to_qt(r.summary.dir) == dir) return &r;
  return nullptr;
}

const RunsPanel::Run* RunsPanel::find(const QString& dir) const { return const_cast<RunsPanel*>(this)->find(dir); }

QString RunsPanel::displayName(const QString& dir) const {
  const Run* r = find(dir);
  return r ? to_qt(r->summary.display_name()) : QFileInfo(dir).fileName();
}

QStringList RunsPanel::tags(const QString& dir) const {
  const Run* r = find(dir);
  return r ? to_qt(r->summary.meta.tags) : QStringList();
}

bool RunsPanel::setRunMeta(const QString& dir, const QString& name, const QStringList& tags) {
  Run* run = find(dir);
  if (!run) return false;
  RunMeta meta;
  meta.name = name.trimmed().toStdString();
  for (const QString& t : tags) meta.tags.push_back(t.trimmed().toStdString());
  try {
    write_run_meta(dir.toStdString(), meta);
  } catch (const std::exception& e) {
    Q_EMIT message(QString("Cannot name the run %1: %2").arg(dir, e.what()));
    return false;
  }
  run->summary.meta = meta;
  for (int r = 0; r < table_->rowCount(); ++r)
    if (table_->item(r, kName)->data(Qt::UserRole).toString() == dir) {
      const QSignalBlocker quiet(table_);
      table_->item(r, kName)->setText(displayName(dir));
      table_->item(r, kName)->setToolTip(displayName(dir) + "\n" + dir);
      table_->item(r, kTags)->setText(to_qt(meta.tags).join(", "));
      table_->item(r, kTags)->setToolTip(to_qt(meta.tags).join(", "));
    }
  setFilter(filter_->text());
  updateSelection();  // the legends show the new name
  Q_EMIT renamed(dir);
  return true;
}

void RunsPanel::setFilter(const QString& text) {
  if (filter_->text() != text) filter_->setText(text);  // comes back here through textChanged
  const QStringList words = text.split(' ', Qt::SkipEmptyParts);
  for (int r = 0; r < table_->rowCount(); ++r) {
    const QString haystack = QStringList{table_->item(r, kName)->text(), table_->item(r, kTags)->text(),
                                         table_->item(r, kKind)->text()}.join(' ');
    bool match = true;
    for (const QString& w : words) match = match && haystack.contains(w, Qt::CaseInsensitive);
    table_->setRowHidden(r, !match);
  }
}

QColor RunsPanel::runColor(const QString& dir) const { return expert_color(colour_index_.value(dir, 0)); }

QString RunsPanel::whyNotDeletable(const QString& dir) const {
  if (run_folder_locked(dir.toStdString()))
    return QString("%1 is training: stop it before deleting it.").arg(displayName(dir));
  if (suite_running_ && (dir == running_suite_ || dir.startsWith(running_suite_ + "/")))
    return QString("%1 belongs to the running paper experiment: stop the suite first.").arg(displayName(dir));
  return {};
}

bool RunsPanel::deleteRun(const QString& dir) {
  const QString name = displayName(dir);
  auto refused = [&] {
    const QString why = whyNotDeletable(dir);
    if (!why.isEmpty()) Q_EMIT message("Cannot delete the run: " + why);
    return !why.isEmpty();
  };
  if (refused() || !confirm_(QString("Move the run “%1” to the trash?\n\n%2").arg(name, dir))) return false;
  if (refused()) return false;  // it may have started training while the question was open
  if (!move_to_trash(dir)) {
    if (!confirm_(QString("The system trash cannot take the run “%1”.\n\nDelete the folder %2 permanently? This "
                          "cannot be undone.")
                      .arg(name, dir)))
      return false;
    if (!QDir(dir).removeRecursively()) {
      Q_EMIT message(QString("Could not delete all of %1.").arg(dir));
      refresh();
      return false;
    }
  }
  runs_.removeIf([&](const Run& r) { return to_qt(r.summary.dir) == dir; });
  for (int r = table_->rowCount() - 1; r >= 0; --r)
    if (table_->item(r, kName)->data(Qt::UserRole).toString() == dir) table_->removeRow(r);
  updateSelection();
  return true;
}

void RunsPanel::editSelected() {
  const QStringList dirs = selectedRuns();
  if (dirs.isEmpty()) return;
  const QString dir = dirs.first();
  const Run* run = find(dir);
  QString name = run ? to_qt(run->summary.meta.name) : QString();
  const QString automatic = run ? to_qt(automatic_run_name(run->summary.config, run->summary.started)) : QString();
  QStringList list = tags(dir);
  if (edit_name_and_tags(this, dir, automatic, name, list)) setRunMeta(dir, name, list);
}

void RunsPanel::deleteSelected() {
  for (const QString& dir : selectedRuns())
    if (!deleteRun(dir)) return;
}

void RunsPanel::showContextMenu(const QPoint& at) {
  const int row = table_->rowAt(at.y());
  if (row < 0) return;
  if (!table_->item(row, kName)->isSelected()) table_->selectRow(row);
  QMenu menu;
  menu.addAction("Open", this, [this, row] { Q_EMIT openRunRequested(table_->item(row, kName)->data(Qt::UserRole).toString()); });
  menu.addAction("Rename", QKeySequence(Qt::Key_F2), this, [this, row] { table_->editItem(table_->item(row, kName)); });
  menu.addAction("Name and tags…", this, &RunsPanel::editSelected);
  const QString dir = table_->item(row, kName)->data(Qt::UserRole).toString();
  for (const Run& run : runs_) {
    const RunSummary& s = run.summary;
    if (to_qt(s.dir) != dir || s.status == RunStatus::empty) continue;
    menu.addSeparator();
    if (!s.config.is_moe()) menu.addAction("Upcycle into a mixture of experts…", this, [this, dir] { deriveFrom(dir); });
    else if (s.config.routing != RoutingMode::hash) menu.addAction("Prune experts…", this, [this, dir] { deriveFrom(dir); });
  }
  menu.addSeparator();
  menu.addAction("Delete…", QKeySequence::Delete, this, &RunsPanel::deleteSelected);
  menu.exec(table_->viewport()->mapToGlobal(at));
}

// ---------------------------------------------------------------------------------------------------

void RunsPanel::selectRuns(const QStringList& dirs) {
  table_->clearSelection();
  table_->setSelectionMode(QAbstractItemView::MultiSelection);
  for (int r = 0; r < table_->rowCount(); ++r)
    if (dirs.contains(table_->item(r, kName)->data(Qt::UserRole).toString())) table_->selectRow(r);
  table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
}

QStringList RunsPanel::selectedRuns() const {
  QStringList dirs;
  for (int r = 0; r < table_->rowCount(); ++r)
    if (table_->item(r, kName) && table_->item(r, kName)->isSelected())
      dirs << table_->item(r, kName)->data(Qt::UserRole).toString();
  return dirs;
}

std::vector<RunSummary> RunsPanel::selectedSummaries() const {
  std::vector<RunSummary> selected;
  const QStringList dirs = selectedRuns();
  for (const Run& r : runs_)
    if (dirs.contains(to_qt(r.summary.dir))) selected.push_back(r.summary);
  return selected;
}

void RunsPanel::updateSelection() {
  const QStringList dirs = selectedRuns();
  open_->setEnabled(!dirs.isEmpty());
  edit_->setEnabled(dirs.size() == 1);
  delete_->setEnabled(!dirs.isEmpty());
  export_->setEnabled(!dirs.isEmpty());
  loss_overlay_->removeAllSeries();
  entropy_overlay_->removeAllSeries();
  QStringList names;
  for (const Run& run : runs_) {
    const QString dir = to_qt(run.summary.dir);
    if (!dirs.contains(dir)) continue;
    QString name = displayName(dir);  // whole: the legend wraps a long one
    if (names.contains(name)) name += " (" + to_qt(run.summary.name) + ")";  // series are found by name
    names << name;
    loss_overlay_->addSeries(name, runColor(dir));
    loss_overlay_->setPoints(name, run.val_loss);
    if (!run.load_entropy.isEmpty()) {
      entropy_overlay_->addSeries(name, runColor(dir));
      entropy_overlay_->setPoints(name, run.load_entropy);
    }
  }
  fill(comparison_, comparison_table(selectedSummaries()));
}

TableFigure RunsPanel::comparisonFigure() const {
  return TableFigure("comparison", "Comparison of the selected runs", comparison_table(selectedSummaries()));
}

TableFigure RunsPanel::paperFigure() const {
  return TableFigure("paper_table", "The reference paper's published numbers", paper_table());
}

void RunsPanel::exportComparison(const QString& path) const {
  const Table t = comparison_table(selectedSummaries());
  const QString suffix = QFileInfo(path).suffix().toLower();
  const std::string text = suffix == "csv" ? t.to_csv()
                           : suffix == "tex" ? t.to_latex("Comparison of MoE routing variants")
                                             : t.to_markdown();
  export_figure_data(path, QString::fromStdString(text));
}

void RunsPanel::startSuite(const Config& base, const QString& datasetPath) {
  if (suite_running_ || !suite_allowed_) return;
  const QString stamp = QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss-zzz");  // two in a second differ
  const QString dir = QDir(runs_dir_).filePath("paper-suite-" + stamp);
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
  running_suite_ = suiteDir;
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
  continue_->setEnabled(!on && suite_allowed_ && !unfinished_suite_.isEmpty());
  progress_->setVisible(on || progress_->value() > 0);
  if (changed) Q_EMIT suiteRunningChanged(on);
}

DerivedRunDialog* RunsPanel::deriveFrom(const QString& dir) {
  for (const Run& run : runs_) {
    if (to_qt(run.summary.dir) != dir) continue;
    auto* dialog = new DerivedRunDialog(dir, run.summary.config, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &DerivedRunDialog::created, this, [this] { refresh(); });  // the dialog names the new run
    connect(dialog, &DerivedRunDialog::fineTuneRequested, this, &RunsPanel::fineTuneRequested);
    dialog->open();
    return dialog;
  }
  return nullptr;
}

}  // namespace moewb
