// The Runs dock: a sortable table of the runs in the runs directory (suites included), overlays of the selected
// runs' validation loss and load entropy, the comparison table in the paper's layout beside the paper's own
// numbers (exportable to CSV, Markdown and LaTeX), and the paper's five-run experiment in one click.
#pragma once

#include <QMap>
#include <QThread>
#include <QWidget>

#include "config.h"
#include "line_chart.h"
#include "metrics_csv.h"
#include "run_summary.h"
#include "suite_worker.h"
#include "table_figure.h"

class QLabel;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace moewb {

class RunsPanel : public QWidget {
  Q_OBJECT

 public:
  explicit RunsPanel(QWidget* parent = nullptr);
  ~RunsPanel() override;

  void setRunsDirectory(const QString& dir);
  void refresh();
  QTableWidget* table() const { return table_; }
  QTableWidget* comparison() const { return comparison_; }
  QTableWidget* paperTable() const { return paper_; }
  LineChart* lossOverlay() const { return loss_overlay_; }
  // Selects runs by folder path (for tests and "open after suite").
  void selectRuns(const QStringList& dirs);
  QStringList selectedRuns() const;
  // Starts the paper suite with this base config and dataset, or continues the unfinished suite.
  void startSuite(const Config& base, const QString& datasetPath);
  void continueSuite(const QString& suiteDir);
  void stopSuite();
  // The suite shares the CPU/GPU with interactive training: it may start only while no other run trains.
  void setSuiteAllowed(bool allowed);
  bool suiteRunning() const { return suite_running_; }
  // Its signals carry the running suite's steps and evaluations (the main window shows them live).
  SuiteWorker* suiteWorker() const { return worker_; }
  QString unfinishedSuite() const;
  // Writes the comparison of the selected runs; the format follows the suffix (.csv, .md, .tex).
  void exportComparison(const QString& path) const;
  // The comparison of the selected runs and the paper's table as figures (their widgets' export menus).
  TableFigure comparisonFigure() const;
  TableFigure paperFigure() const;

 Q_SIGNALS:
  void openRunRequested(const QString& dir);
  // The owner answers with startSuite(config, dataset).
  void suiteRequested();
  void suiteRunningChanged(bool running);
  void message(const QString& text);

 private:
  void updateSelection();
  void setSuiteRunning(bool on);

  QString runs_dir_;
  QList<RunSummary> runs_;
  QMap<QString, MetricsTable> metrics_cache_;
  QThread thread_;
  SuiteWorker* worker_;
  bool suite_running_ = false, suite_allowed_ = true;
  QTableWidget *table_, *comparison_, *paper_;
  LineChart *loss_overlay_, *entropy_overlay_;
  QPushButton *open_, *suite_, *continue_, *stop_, *export_;
  QProgressBar* progress_;
  QLabel* progress_label_;
};

}  // namespace moewb
