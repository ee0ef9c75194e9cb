// The Runs dock: a sortable, filterable table of the runs in the runs directory (suites included) with their
// name, tags, kind and status; renaming, tagging and deleting runs; overlays of the selected runs' validation
// loss and load entropy (one colour per run, whatever is selected), the comparison table in the paper's layout
// beside the paper's own numbers (exportable to CSV, Markdown and LaTeX), and the paper's five-run experiment in
// one click. The runs directory is read off the GUI thread.
#pragma once

#include <QHash>
#include <QThread>
#include <QWidget>

#include <functional>

#include "core/config/config.h"
#include "core/runs/run_summary.h"
#include "ui/common/line_chart.h"
#include "ui/render/table_figure.h"
#include "ui/runs/suite_worker.h"

class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTabWidget;
class QTableWidget;

namespace moewb {

class DerivedRunDialog;

class RunsPanel : public QWidget {
  Q_OBJECT

 public:
  explicit RunsPanel(QWidget* parent = nullptr);
  ~RunsPanel() override;

  void setRunsDirectory(const QString& dir);
  // Re-reads the runs directory on a worker thread; refreshed() follows when the table shows it. A refresh
  // asked for while one runs is done once more after it.
  void refresh();
  // Re-reads one run (training on it ended, its generation speed was measured) off the GUI thread and replaces
  // its row. A run the table does not show yet, or a scan under way, reads the whole directory again (refresh()).
  void refreshRun(const QString& dir);
  QTableWidget* table() const { return table_; }
  QTableWidget* comparison() const { return comparison_; }
  QTableWidget* paperTable() const { return paper_; }
  LineChart* lossOverlay() const { return loss_overlay_; }
  // Selects runs by folder path (for tests and "open after suite").
  void selectRuns(const QStringList& dirs);
  QStringList selectedRuns() const;
  // The name the table, the legends and the figures show: the user's name from meta.json, else the run's
  // automatic name ("top-2 · N 4 · cf 1.0 · 15:17": routing and start time, run_name.h).
  QString displayName(const QString& dir) const;
  QStringList tags(const QString& dir) const;
  // Writes the run's meta.json (the folder keeps its name) and says renamed(); false, with message(), when it
  // cannot be written.
  bool setRunMeta(const QString& dir, const QString& name, const QStringList& tags);
  // Hides the rows whose name, tags and kind do not contain every word of the text (case-insensitive).
  void setFilter(const QString& text);
  // The run's colour in the overlays: given once per folder in table order, kept whatever is selected.
  QColor runColor(const QString& dir) const;
  // Why the run may not be deleted now (it trains, or belongs to the running suite), else empty.
  QString whyNotDeletable(const QString& dir) const;
  // Moves the run folder to the system trash after confirm() says yes; when the trash cannot take it, deletes
  // it after a second confirm() that says so. False when refused, declined or failed (with message()).
  bool deleteRun(const QString& dir);
  // Opens the prune (MoE run) or upcycle (dense run) dialog for a run in the table; null for an unknown run.
  DerivedRunDialog* deriveFrom(const QString& dir);
  // Answers the confirmations (the question shown as text); by default a message box. Tests answer it.
  void setConfirm(std::function<bool(const QString& question)> confirm) { confirm_ = std::move(confirm); }
  // Starts the paper suite with this base config and dataset, or continues the unfinished suite.
  void startSuite(const Config& base, const QString& datasetPath);
  void continueSuite(const QString& suiteDir);
  void stopSuite();
  // The suite shares the CPU/GPU with interactive training: it may start only while no other run trains.
  void setSuiteAllowed(bool allowed);
  bool suiteRunning() const { return suite_running_; }
  // Its signals carry the running suite's steps and evaluations (the main window shows them live).
  SuiteWorker* suiteWorker() const { return worker_; }
  QString unfinishedSuite() const { return unfinished_suite_; }  // as of the last refresh()
  // Writes the comparison of the selected runs; the format follows the suffix (.csv, .md, .tex).
  void exportComparison(const QString& path) const;
  // The comparison of the selected runs and the paper's table as figures (their widgets' export menus).
  TableFigure comparisonFigure() const;
  TableFigure paperFigure() const;

 Q_SIGNALS:
  void openRunRequested(const QString& dir);
  // a pruned or upcycled run was made: open it and fine-tune it (resume)
  void fineTuneRequested(const QString& dir);
  // The owner answers with startSuite(config, dataset).
  void suiteRequested();
  void suiteRunningChanged(bool running);
  void message(const QString& text);
  // The table shows the runs directory as read by the last refresh().
  void refreshed();
  // The user named the run (or took its name away): displayName() changed.
  void renamed(const QString& dir);

 private:
  // A run as the worker thread read it: its summary and the curves the overlays draw.
  struct Run {
    RunSummary summary;
    QList<QPointF> val_loss, load_entropy;
  };
  struct Scan {
    QList<Run> runs;
    QStringList skipped;  // "folder: why"
    QString unfinished_suite;
  };
  static Run readRun(const QString& root, const QString& dir);  // throws naming the file
  static Scan scan(const QString& root, const QStringList& dirs);
  static Scan scanDirectory(const QString& root);
  // The constructor's steps, in order: widgets are created and laid out in the order that sets the tab order.
  void buildTables();
  void buildOverlays();
  QPushButton* buildButtons();  // returns the Refresh button (no member: nothing else uses it)
  void buildLayout(QPushButton* refresh_button);
  QTabWidget* buildComparisonTabs();
  // Refresh, Open, Name, Delete (button and key), the filter and Export table.
  void connectRunActions(QPushButton* refresh_button);
  void connectTable();
  void connectSuite();
  void show(const Scan& scan);
  void showRun(const Run& run);
  void fillRow(int row, const RunSummary& s);
  void fitColumns();
  Run* find(const QString& dir);
  const Run* find(const QString& dir) const;
  std::vector<RunSummary> selectedSummaries() const;
  void editSelected();
  void deleteSelected();
  void showContextMenu(const QPoint& at);
  void updateSelection();
  void setSuiteRunning(bool on);

  QString runs_dir_;
  QList<Run> runs_;
  QHash<QString, int> colour_index_;  // by folder, for the panel's lifetime
  QString unfinished_suite_;          // as of the last scan
  bool scanning_ = false, rescan_ = false;
  QString running_suite_;
  std::function<bool(const QString&)> confirm_;
  QThread thread_;
  SuiteWorker* worker_;
  bool suite_running_ = false, suite_allowed_ = true;
  QLineEdit* filter_;
  QTableWidget *table_, *comparison_, *paper_;
  LineChart *loss_overlay_, *entropy_overlay_;
  QPushButton *open_, *edit_, *delete_, *suite_, *continue_, *stop_, *export_;
  QProgressBar* progress_;
  QLabel* progress_label_;
};

}  // namespace moewb
