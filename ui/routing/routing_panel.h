// The Routing dock: heatmaps of how each layer routes each character, on the probe-text snapshots taken at
// every evaluation (scrub or play through training), a slice of validation text, the user's own text or the
// generated text; a second heatmap to compare layers or snapshots; the char x expert affinity matrix; and the
// text itself with the hovered character highlighted. Traces are computed off the GUI thread.
#pragma once

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QTimer>
#include <QWidget>

#include <optional>

#include "ui/common/line_chart.h"
#include "ui/common/meta_types.h"
#include "ui/render/training_history.h"
#include "ui/routing/affinity_view.h"
#include "ui/routing/routing_column_detail.h"
#include "ui/routing/routing_heatmap.h"
#include "ui/routing/routing_reading_view.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSlider;
class QSpinBox;
class QSplitter;
class QStackedWidget;
class QTabWidget;
class QTableWidget;

namespace moewb {

class ExpertProfileView;
class InterventionPanel;
class StabilityPage;

class RoutingPanel : public QWidget {
  Q_OBJECT

 public:
  enum Source { Snapshots = 0, Validation = 1, OwnText = 2, Generated = 3 };

  explicit RoutingPanel(QWidget* parent = nullptr);
  // Waits for a running trace: its progress reports address this panel.
  ~RoutingPanel() override;

  // A new run or an opened run: the model kind decides between heatmaps and the dense-model message.
  void reset(const Config& config);
  // Named in the subtitles of exported heatmaps and affinity matrices.
  void setRunName(const QString& name);
  void addSnapshot(const RoutingTrace& snapshot);
  void setSnapshots(const QList<RoutingTrace>& snapshots);
  void setValidationText(const QString& text);
  void setGeneratedText(const QString& text);
  void setSource(Source s);
  // Shows the snapshot at index i (the slider position).
  void showSnapshot(int index);
  void setCompare(bool on);
  // Computes the trace of `text` with `model` on a worker thread, then shows it. While one runs, the latest
  // request waits and runs next (streamed text asks often).
  void traceWith(const InferenceModel& model, const QString& text);
  // No model could be had for a trace: said in the panel's status line.
  void traceFailed(const QString& why);
  // Generated text as it streams, with its model: traced at once when the panel shows generated text.
  void streamGenerated(const InferenceModel& model, const QString& text);
  // Pins a character in every view (heatmaps, reading view, detail panel); -1 unpins.
  void pin(int column);
  // The layer of the reading view and the detail panel's emphasis.
  void setReadingLayer(int layer);
  void setHighlightedExpert(int expert);
  // The dataset whose validation split the affinity tab can count routing over.
  void setDatasetPath(const QString& path);
  // Counts routing over the whole validation split with this model, off the GUI thread; the affinity matrix and
  // the top-characters table then show those counts.
  void countValidationWith(const InferenceModel& model);
  // 0: statistics of the shown trace; 1: of the whole validation split (asks for a model when not counted yet).
  void setStatisticsSource(int source);
  // The counts the affinity tab shows.
  const RoutingCounts& statistics() const { return shown_counts_; }
  // The Experts tab: per layer and expert, what it receives (from the same statistics as the affinity tab).
  ExpertProfileView* expertProfiles() const { return experts_; }
  // Per layer, each expert's load share at each evaluation of the run (the Training dock's history), drawn in the
  // expert profiles; reset() clears it.
  void setLoadHistory(const QVector<LayerHistory>& layers);
  QTableWidget* topCharactersTable() const { return top_table_; }
  InterventionPanel* interventionPanel() const { return intervention_; }
  // Per layer, the share of probe characters whose top expert changed since the previous snapshot.
  LineChart* stabilityChart() const { return stability_; }
  // The Stability tab: the curve and, per layer, the heatmap of which characters changed and to which expert.
  StabilityPage* stabilityPage() const { return stability_page_; }

  RoutingHeatmap* heatmap() const { return heatmap_; }
  RoutingHeatmap* compareHeatmap() const { return compare_; }
  AffinityView* affinityView() const { return affinity_; }
  RoutingReadingView* readingView() const { return reading_; }
  RoutingColumnDetail* columnDetail() const { return detail_; }
  QSlider* zoomSlider() const { return zoom_; }
  QString status() const;
  QSlider* snapshotSlider() const { return slider_; }
  // Traces apply the model's capacity limit as training would (only offered when the config has one).
  void setTraceCapacity(bool on);
  int snapshotCount() const { return snapshots_.size(); }
  QString shownText() const;

 Q_SIGNALS:
  // The panel needs a model to trace this text; the owner answers with traceWith().
  void traceRequested(const QString& text);
  // The panel needs a model to count the validation split; the owner answers with countValidationWith().
  void statisticsRequested();

 private:
  // The constructor's steps, in order: widgets are created and laid out in the order that sets the tab order.
  void buildControls();
  void buildSnapshotRow();
  // The validation slice, the Trace button and the own-text input.
  void buildTextRows();
  void buildCompareRow();
  void buildViews();
  // The affinity and Experts tabs' controls and the top-characters table.
  void buildStatistics();
  QTabWidget* buildTabs();
  QWidget* buildHeatmapPage();
  QWidget* buildHeatmaps();
  QSplitter* buildReadingSplit();
  QWidget* buildAffinityPage();
  QWidget* buildExpertsPage();
  void buildLayout(QWidget* controls, QTabWidget* tabs);
  void connectControls();
  void connectStatistics();
  void connectViews();
  void connectAutoTrace();
  void connectTraceWatcher();

  void requestTrace();
  // The status line under the controls, hidden when empty; an error in the error colour.
  void setStatus(const QString& text, bool error = false);
  void showTrace(const RoutingTrace& trace);
  void updateViews();
  // Counts the statistics source (the shown trace or the validation split), then shows them.
  void countShown();
  // Shows the chosen layer of the counts (a layer change needs no recount).
  void updateAffinity();
  void highlight(int column);
  void fillLayerCombos(int layers);
  void fillExpertCombo(int experts);
  void updateStability();
  // The statistics' state (counting, counted, failed) beside both "statistics of" choices.
  void showStatsState(const QString& text);

  Config config_;
  QString run_name_;
  QList<RoutingTrace> snapshots_;
  QString validation_text_, generated_text_;
  RoutingTrace current_;
  QFutureWatcher<RoutingTrace> watcher_;
  std::optional<std::pair<InferenceModel, QString>> pending_trace_;
  QTimer player_, auto_trace_;
  QString dataset_path_;
  QFutureWatcher<RoutingCounts> stats_watcher_;
  std::shared_ptr<std::atomic<bool>> stats_cancel_ = std::make_shared<std::atomic<bool>>(false);  // the running count's
  std::optional<RoutingCounts> validation_counts_;
  RoutingCounts shown_counts_;
  bool shown_from_validation_ = false;
  QElapsedTimer stats_clock_;  // times the validation count

  QStackedWidget* stack_;
  QComboBox *source_, *view_, *compare_view_, *compare_snapshot_, *affinity_layer_, *read_layer_, *highlight_,
      *stats_source_, *experts_source_;
  QLabel *stats_label_, *experts_label_;
  ExpertProfileView* experts_;
  QTableWidget* top_table_;
  InterventionPanel* intervention_;
  LineChart* stability_;
  StabilityPage* stability_page_;
  QSlider *slider_, *zoom_;
  QLabel *step_label_, *status_;
  QPushButton *play_, *trace_button_;
  QSpinBox *offset_, *length_;
  QPlainTextEdit* input_;
  RoutingReadingView* reading_;
  RoutingColumnDetail* detail_;
  QCheckBox *compare_box_, *capacity_box_;
  QWidget *snapshot_row_, *validation_row_, *input_row_, *compare_row_;
  RoutingHeatmap *heatmap_, *compare_;
  AffinityView* affinity_;
};

}  // namespace moewb
