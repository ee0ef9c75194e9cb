#include "ui/routing/routing_panel.h"

#include <algorithm>
#include <cmath>

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QHeaderView>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/runs/run_name.h"
#include "ui/common/future_error.h"
#include "ui/render/palette.h"
#include "ui/render/routing_text.h"
#include "ui/routing/expert_profile_view.h"
#include "ui/routing/intervention_panel.h"
#include "ui/routing/stability_page.h"

namespace moewb {

namespace {
constexpr int kPlayIntervalMs = 600;
constexpr int kAutoTraceDelayMs = 400;  // after the last keystroke or spin-box change

QWidget* row_of(std::initializer_list<QWidget*> widgets, bool stretch = true) {
  auto* w = new QWidget;
  auto* l = new QHBoxLayout(w);
  l->setContentsMargins(0, 0, 0, 0);
  for (auto* x : widgets) l->addWidget(x);
  if (stretch) l->addStretch();
  return w;
}
}  // namespace

RoutingPanel::RoutingPanel(QWidget* parent) : QWidget(parent) {
  register_meta_types();
  buildControls();
  buildSnapshotRow();
  buildTextRows();
  buildCompareRow();
  buildViews();
  buildStatistics();
  QWidget* controls = row_of({new QLabel("Text"), source_, trace_button_, capacity_box_, new QLabel("View"), view_,
                              new QLabel("Zoom"), zoom_, compare_box_});
  QTabWidget* tabs = buildTabs();
  buildLayout(controls, tabs);
  connectControls();
  connectStatistics();
  connectViews();
  connectAutoTrace();
  connectTraceWatcher();
  setSource(Snapshots);
}

void RoutingPanel::buildControls() {
  source_ = new QComboBox;
  source_->addItems({"Training snapshots (probe text)", "Validation text", "Your text", "Generated text"});
  source_->setToolTip("Which text to route: the fixed probe text of the snapshots taken at each evaluation, a slice "
                      "of the validation split, text you type or paste, or the Generation panel's text.");
  view_ = new QComboBox;
  view_->setToolTip("All layers (colour = top expert) or one layer's experts (probabilities).");
  zoom_ = new QSlider(Qt::Horizontal);
  zoom_->setRange(3, 48);
  zoom_->setValue(14);
  zoom_->setMaximumWidth(140);
  zoom_->setToolTip("Pixels per character (also Ctrl + mouse wheel over the heatmap).");
  capacity_box_ = new QCheckBox("Capacity as in training");
  capacity_box_->setToolTip("Off (default): every character reaches its experts, as in generation.\nOn: route the text in "
                            "training-sized batches (batch_size x block_size tokens) with the capacity limit, so "
                            "drops (hatched) show where training would drop. Press Trace again after changing it.");
  capacity_box_->hide();
  compare_box_ = new QCheckBox("Compare");
  compare_box_->setToolTip("Show a second heatmap: another layer, or another snapshot of training.");
  // a line of its own under the controls: in the controls' row it got no width at 1280 px and was never seen
  status_ = new QLabel;
  status_->setObjectName("routing_status");
  status_->setWordWrap(true);
  status_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // a long status never widens the window
  status_->hide();
}

void RoutingPanel::buildSnapshotRow() {
  slider_ = new QSlider(Qt::Horizontal);
  slider_->setRange(0, 0);
  slider_->setToolTip("Scrub through the routing snapshots taken at each evaluation.");
  step_label_ = new QLabel("no snapshots yet");
  play_ = new QPushButton("Play");
  play_->setCheckable(true);
  play_->setToolTip("Animate the snapshots over training.");
  snapshot_row_ = row_of({new QLabel("Snapshot"), slider_, step_label_, play_}, false);
  static_cast<QHBoxLayout*>(snapshot_row_->layout())->setStretch(1, 1);
}

void RoutingPanel::buildTextRows() {
  offset_ = new QSpinBox;
  offset_->setRange(0, 0);
  offset_->setToolTip("First character of the validation slice.");
  length_ = new QSpinBox;
  length_->setRange(1, 20000);
  length_->setValue(2000);
  length_->setToolTip("Characters to route.");
  trace_button_ = new QPushButton("Trace");
  trace_button_->setObjectName("trace_button");
  trace_button_->setToolTip("Route this text through the current model (a training snapshot or the opened run's "
                            "checkpoint).");
  validation_row_ = row_of({new QLabel("From character"), offset_, new QLabel("length"), length_});
  input_ = new QPlainTextEdit;
  input_->setPlaceholderText("Type or paste text to route (characters outside the vocabulary are reported).");
  input_->setMaximumHeight(60);
  input_row_ = row_of({input_}, false);
}

void RoutingPanel::buildCompareRow() {
  compare_view_ = new QComboBox;
  compare_snapshot_ = new QComboBox;
  compare_snapshot_->setToolTip("Snapshot shown in the second heatmap.");
  compare_row_ = row_of({new QLabel("Second view"), compare_view_, new QLabel("snapshot"), compare_snapshot_});
  compare_row_->hide();
}

void RoutingPanel::buildViews() {
  heatmap_ = new RoutingHeatmap;
  compare_ = new RoutingHeatmap;
  compare_->hide();
  reading_ = new RoutingReadingView;
  reading_->setToolTip("The routed text, each character on its top expert's colour in the chosen layer. Click a "
                       "character to pin it (the heatmap follows); arrows move it, PgUp/PgDn change the layer.");
  detail_ = new RoutingColumnDetail;
  read_layer_ = new QComboBox;
  read_layer_->setToolTip("Layer whose routing colours the text (PgUp / PgDn).");
  highlight_ = new QComboBox;
  highlight_->setToolTip("Keep the colour only on the characters one expert processed.");
}

void RoutingPanel::buildStatistics() {
  affinity_layer_ = new QComboBox;
  affinity_ = new AffinityView;
  stats_source_ = new QComboBox;
  stats_source_->addItems({"the text shown in the heatmap", "the whole validation split"});
  stats_source_->setToolTip("Count routing over the traced text, or over every character of the validation split "
                            "(traced in slices off the GUI thread, without capacity limits).");
  stats_label_ = new QLabel;
  stats_label_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  // the Experts tab shows the same statistics: its own "statistics of" choice mirrors the affinity tab's
  experts_source_ = new QComboBox;
  experts_source_->addItems({"the text shown in the heatmap", "the whole validation split"});
  experts_source_->setToolTip(stats_source_->toolTip());
  experts_label_ = new QLabel;
  experts_label_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  experts_ = new ExpertProfileView;
  top_table_ = new QTableWidget;
  top_table_->setObjectName("top_characters");
  top_table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  top_table_->verticalHeader()->hide();
  top_table_->verticalHeader()->setDefaultSectionSize(22);
  top_table_->horizontalHeader()->setStretchLastSection(true);
  top_table_->setColumnCount(2);
  top_table_->setHorizontalHeaderLabels({"Expert", "Characters it receives most (share of its assignments)"});
  top_table_->setToolTip("Per expert of the chosen layer: the characters that make up most of its assignments.");
}

QWidget* RoutingPanel::buildHeatmapPage() {
  auto* heat_page = new QWidget;
  auto* heat_layout = new QVBoxLayout(heat_page);
  heat_layout->setContentsMargins(0, 0, 0, 0);
  auto* split = new QSplitter(Qt::Vertical);
  QWidget* maps = buildHeatmaps();
  QSplitter* reading_split = buildReadingSplit();
  split->addWidget(maps);
  split->addWidget(reading_split);
  split->setStretchFactor(0, 3);  // the heatmaps first: the text under them reads in fewer lines
  split->setStretchFactor(1, 2);
  split->setSizes({600, 400});  // the same share at the start, whatever the views' preferred sizes
  heat_layout->addWidget(split);
  return heat_page;
}

QWidget* RoutingPanel::buildHeatmaps() {
  auto* maps = new QWidget;
  auto* maps_layout = new QVBoxLayout(maps);
  maps_layout->setContentsMargins(0, 0, 0, 0);
  maps_layout->addWidget(heatmap_, 1);
  maps_layout->addWidget(compare_row_);
  maps_layout->addWidget(compare_, 1);
  return maps;
}

QSplitter* RoutingPanel::buildReadingSplit() {
  auto* reading_page = new QWidget;
  auto* reading_layout = new QVBoxLayout(reading_page);
  reading_layout->setContentsMargins(0, 0, 0, 0);
  reading_layout->addWidget(row_of({new QLabel("Text coloured by layer"), read_layer_, new QLabel("highlight"), highlight_}));
  reading_layout->addWidget(reading_, 1);
  auto* reading_split = new QSplitter(Qt::Horizontal);
  reading_split->addWidget(reading_page);
  reading_split->addWidget(detail_);
  reading_split->setStretchFactor(0, 3);
  reading_split->setStretchFactor(1, 1);
  return reading_split;
}

QWidget* RoutingPanel::buildAffinityPage() {
  auto* affinity_page = new QWidget;
  auto* affinity_layout = new QVBoxLayout(affinity_page);
  auto* stats_row =
      row_of({new QLabel("Layer"), affinity_layer_, new QLabel("statistics of"), stats_source_, stats_label_}, false);
  static_cast<QHBoxLayout*>(stats_row->layout())->setStretch(4, 1);  // else the stretch leaves the state no width
  affinity_layout->addWidget(stats_row);
  affinity_layout->addWidget(new QLabel("Share of each character's router assignments per expert (with top-k, 1/k "
                                        "means always chosen):"));
  auto* stats_split = new QSplitter(Qt::Vertical);
  stats_split->addWidget(affinity_);
  stats_split->addWidget(top_table_);
  stats_split->setStretchFactor(0, 3);
  stats_split->setStretchFactor(1, 1);
  affinity_layout->addWidget(stats_split, 1);
  return affinity_page;
}

QWidget* RoutingPanel::buildExpertsPage() {
  auto* experts_page = new QWidget;
  auto* experts_layout = new QVBoxLayout(experts_page);
  auto* experts_row = row_of({new QLabel("statistics of"), experts_source_, experts_label_}, false);
  static_cast<QHBoxLayout*>(experts_row->layout())->setStretch(2, 1);  // the state (counted in 5 s) stays readable
  experts_layout->addWidget(experts_row);
  experts_layout->addWidget(experts_, 1);
  return experts_page;
}

QTabWidget* RoutingPanel::buildTabs() {
  QWidget* heat_page = buildHeatmapPage();
  QWidget* affinity_page = buildAffinityPage();
  auto* tabs = new QTabWidget;
  tabs->addTab(heat_page, "Heatmap");
  tabs->addTab(affinity_page, "Char × expert affinity");
  tabs->addTab(buildExpertsPage(), "Experts");
  stability_ = new LineChart("Routing stability over training");
  stability_->describe("routing_stability", "share changed",  // short: the chart is often low
                       "share of the probe text's characters whose top expert differs from the previous snapshot");
  stability_->setToolTip("Per layer: how many of the probe text's characters changed their top expert since the "
                         "previous evaluation. Routing has settled where the curve stays near 0.");
  stability_page_ = new StabilityPage(stability_);
  tabs->addTab(stability_page_, "Stability");
  intervention_ = new InterventionPanel;
  tabs->addTab(intervention_, "Intervene");
  return tabs;
}

void RoutingPanel::buildLayout(QWidget* controls, QTabWidget* tabs) {
  auto* content = new QWidget;
  auto* layout = new QVBoxLayout(content);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(controls);
  layout->addWidget(status_);
  layout->addWidget(snapshot_row_);
  layout->addWidget(validation_row_);
  layout->addWidget(input_row_);
  layout->addWidget(tabs, 1);
  auto* dense = new QLabel("No routing in a dense model: every character goes through the same feed-forward "
                           "layer.\nChoose FFN kind = moe to see experts here.");
  dense->setAlignment(Qt::AlignCenter);
  dense->setWordWrap(true);
  stack_ = new QStackedWidget;
  stack_->addWidget(content);
  stack_->addWidget(dense);
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  outer->addWidget(stack_);
}

void RoutingPanel::connectControls() {
  connect(source_, &QComboBox::currentIndexChanged, this, [this](int i) { setSource(static_cast<Source>(i)); });
  connect(view_, &QComboBox::currentIndexChanged, this, [this](int i) { heatmap_->setDetailLayer(i - 1); });
  connect(compare_view_, &QComboBox::currentIndexChanged, this, [this](int i) { compare_->setDetailLayer(i - 1); });
  connect(compare_snapshot_, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (i >= 0 && i < snapshots_.size() && source_->currentIndex() == Snapshots) compare_->setTrace(snapshots_[i]);
  });
  connect(zoom_, &QSlider::valueChanged, this, [this](int v) {
    heatmap_->setCellWidth(v);
    compare_->setCellWidth(v);
  });
  connect(compare_box_, &QCheckBox::toggled, this, &RoutingPanel::setCompare);
  connect(slider_, &QSlider::valueChanged, this, &RoutingPanel::showSnapshot);
  connect(play_, &QPushButton::toggled, this, [this](bool on) {
    play_->setText(on ? "Pause" : "Play");
    if (on && slider_->value() == slider_->maximum()) slider_->setValue(0);
    on ? player_.start() : player_.stop();
  });
  player_.setInterval(kPlayIntervalMs);
  connect(&player_, &QTimer::timeout, this, [this] {
    if (slider_->value() >= slider_->maximum()) play_->setChecked(false);
    else slider_->setValue(slider_->value() + 1);
  });
  connect(trace_button_, &QPushButton::clicked, this, &RoutingPanel::requestTrace);
}

void RoutingPanel::connectStatistics() {
  connect(affinity_layer_, &QComboBox::currentIndexChanged, this, &RoutingPanel::updateAffinity);
  connect(stats_source_, &QComboBox::currentIndexChanged, this, &RoutingPanel::setStatisticsSource);
  connect(experts_source_, &QComboBox::currentIndexChanged, this, &RoutingPanel::setStatisticsSource);
  connect(&stats_watcher_, &QFutureWatcher<RoutingCounts>::finished, this, [this] {
    if (*stats_cancel_) return;  // counts of a model the panel no longer shows
    try {
      validation_counts_ = stats_watcher_.result();
      showStatsState(QString("whole validation split: %1 characters, counted in %2 s")
                         .arg(validation_counts_->characters())
                         .arg(stats_clock_.elapsed() / 1000.0, 0, 'f', 1));
    } catch (const std::exception& e) {
      showStatsState(QString("Cannot count the validation split: %1").arg(failure_message(e)));
    }
    countShown();
  });
}

void RoutingPanel::connectViews() {
  connect(heatmap_, &RoutingHeatmap::hovered, compare_, &RoutingHeatmap::showHoveredColumn);
  connect(compare_, &RoutingHeatmap::hovered, heatmap_, &RoutingHeatmap::showHoveredColumn);
  for (auto* map : {heatmap_, compare_}) {
    connect(map, &RoutingHeatmap::hovered, this, &RoutingPanel::highlight);
    connect(map, &RoutingHeatmap::pinned, this, &RoutingPanel::pin);
    connect(map, &RoutingHeatmap::layerStepRequested, this,
            [this](int step) { setReadingLayer(read_layer_->currentIndex() + step); });
    connect(map, &RoutingHeatmap::cellWidthChanged, this, [this](double pixels) {
      const QSignalBlocker block(zoom_);  // the slider follows Ctrl + wheel without zooming again
      zoom_->setValue(static_cast<int>(std::lround(pixels)));
      heatmap_->setCellWidth(pixels);
      compare_->setCellWidth(pixels);
    });
  }
  connect(reading_, &RoutingReadingView::hovered, this, [this](int column) {
    heatmap_->showHoveredColumn(column);
    compare_->showHoveredColumn(column);
    if (reading_->pinnedPosition() < 0) detail_->setPosition(column);
  });
  connect(reading_, &RoutingReadingView::pinned, this, &RoutingPanel::pin);
  connect(reading_, &RoutingReadingView::layerStepRequested, this,
          [this](int step) { setReadingLayer(read_layer_->currentIndex() + step); });
  connect(read_layer_, &QComboBox::currentIndexChanged, this, [this](int layer) {
    reading_->setLayer(layer);
    detail_->setCurrentLayer(layer);
  });
  connect(highlight_, &QComboBox::currentIndexChanged, this, [this](int i) { reading_->setHighlightedExpert(i - 1); });
  connect(heatmap_->horizontalScrollBar(), &QScrollBar::valueChanged, compare_->horizontalScrollBar(),
          &QScrollBar::setValue);
}

void RoutingPanel::connectAutoTrace() {
  // a new text source, slice or own text is traced by itself (after a pause in typing)
  auto_trace_.setSingleShot(true);
  auto_trace_.setInterval(kAutoTraceDelayMs);
  connect(&auto_trace_, &QTimer::timeout, this, &RoutingPanel::requestTrace);
  connect(offset_, &QSpinBox::valueChanged, &auto_trace_, qOverload<>(&QTimer::start));
  connect(length_, &QSpinBox::valueChanged, &auto_trace_, qOverload<>(&QTimer::start));
  connect(input_, &QPlainTextEdit::textChanged, &auto_trace_, qOverload<>(&QTimer::start));
  connect(capacity_box_, &QCheckBox::toggled, this, [this] {
    if (source_->currentIndex() != Snapshots) requestTrace();
  });
}

void RoutingPanel::connectTraceWatcher() {
  connect(&watcher_, &QFutureWatcher<RoutingTrace>::finished, this, [this] {
    try {
      const RoutingTrace trace = watcher_.result();
      // a trace for a source the user has left since is not shown
      if (source_->currentIndex() != Snapshots) showTrace(trace);
      setStatus({});
    } catch (const std::exception& e) {
      // the heatmap must not go on showing an earlier text under this one's name
      if (source_->currentIndex() != Snapshots) showTrace(RoutingTrace{});
      setStatus(QString("Cannot trace: %1").arg(failure_message(e)), true);
    }
    if (pending_trace_) {
      const auto [model, text] = *std::exchange(pending_trace_, std::nullopt);
      traceWith(model, text);
    }
  });
}

RoutingPanel::~RoutingPanel() {
  pending_trace_.reset();
  *stats_cancel_ = true;
  wait_quietly(watcher_);
  wait_quietly(stats_watcher_);
}

void RoutingPanel::setDatasetPath(const QString& path) {
  dataset_path_ = path;
  intervention_->setDatasetPath(path);
  validation_counts_.reset();
  countShown();
}

void RoutingPanel::showStatsState(const QString& text) {
  stats_label_->setText(text);
  experts_label_->setText(text);
}

void RoutingPanel::setStatisticsSource(int source) {
  const QSignalBlocker block(stats_source_), block_experts(experts_source_);
  stats_source_->setCurrentIndex(source);
  experts_source_->setCurrentIndex(source);
  if (source == 1 && !validation_counts_ && !stats_watcher_.isRunning()) {
    showStatsState("waiting for the model…");
    Q_EMIT statisticsRequested();
  }
  countShown();
}

void RoutingPanel::countValidationWith(const InferenceModel& model) {
  if (stats_watcher_.isRunning() || dataset_path_.isEmpty()) return;
  showStatsState("counting the validation split…");
  stats_clock_.start();
  stats_cancel_ = std::make_shared<std::atomic<bool>>(false);
  const auto cancel = stats_cancel_;
  auto progress = [this](int64_t done, int64_t total) {
    const QString text = QString("counting the validation split… %1 of %2 characters").arg(done).arg(total);
    QMetaObject::invokeMethod(this, [this, text] { showStatsState(text); }, Qt::QueuedConnection);
  };
  stats_watcher_.setFuture(QtConcurrent::run([model, path = dataset_path_.toStdString(), cancel, progress] {
    const TextDataset data = TextDataset::from_file(path);
    return model.count_routing(data.probe_text(static_cast<int>(data.val_size())), progress, cancel.get());
  }));
}

void RoutingPanel::reset(const Config& config) {
  config_ = config;
  // another model: counts of the old one must not arrive (a cancelled count stops within one slice)
  *stats_cancel_ = true;
  wait_quietly(stats_watcher_);
  validation_counts_.reset();
  showStatsState({});
  {
    const QSignalBlocker block(stats_source_), block_experts(experts_source_);
    stats_source_->setCurrentIndex(0);
    experts_source_->setCurrentIndex(0);
  }
  experts_->setLoadHistory({});
  snapshots_.clear();
  current_ = RoutingTrace{};
  fillLayerCombos(config.is_moe() ? config.n_layer : 0);
  stack_->setCurrentIndex(config.is_moe() ? 0 : 1);
  intervention_->reset(config);
  capacity_box_->setVisible(config.is_moe() && config.use_capacity);
  slider_->setRange(0, 0);
  compare_snapshot_->clear();
  updateStability();
  step_label_->setText("no snapshots yet");
  showTrace(RoutingTrace{});
}

void RoutingPanel::fillLayerCombos(int layers) {
  for (auto* combo : {view_, compare_view_}) {
    combo->blockSignals(true);
    combo->clear();
    combo->addItem("All layers");
    for (int l = 0; l < layers; ++l) combo->addItem(QString("Layer %1 experts").arg(l));
    combo->blockSignals(false);
  }
  if (layers > 0) compare_view_->setCurrentIndex(layers);  // default comparison: the last layer's detail
  compare_->setDetailLayer(layers > 0 ? layers - 1 : -1);
  heatmap_->setDetailLayer(-1);
  read_layer_->blockSignals(true);
  read_layer_->clear();
  for (int l = 0; l < layers; ++l) read_layer_->addItem(QString("Layer %1").arg(l));
  read_layer_->blockSignals(false);
  // the last layer by default: where routing usually specialises most
  setReadingLayer(layers - 1);
  affinity_layer_->blockSignals(true);
  affinity_layer_->clear();
  for (int l = 0; l < layers; ++l) affinity_layer_->addItem(QString("Layer %1").arg(l));
  affinity_layer_->blockSignals(false);
}

void RoutingPanel::fillExpertCombo(int experts) {
  if (highlight_->count() == experts + 1) return;
  const QSignalBlocker block(highlight_);
  highlight_->clear();
  highlight_->addItem("every expert");
  for (int e = 0; e < experts; ++e) highlight_->addItem(QString("only E%1").arg(e));
  reading_->setHighlightedExpert(-1);
}

void RoutingPanel::updateStability() {
  const int layers = snapshots_.isEmpty() ? 0 : static_cast<int>(snapshots_.front().layers.size());
  if (stability_->seriesNames().size() != layers) {
    stability_->removeAllSeries();
    for (int l = 0; l < layers; ++l) stability_->addSeries(QString("layer %1").arg(l), expert_color(l), 1.0, true);
  }
  std::vector<QList<QPointF>> points(static_cast<size_t>(layers));
  for (int i = 1; i < snapshots_.size(); ++i) {
    const std::vector<double> changed = top_expert_changes(snapshots_[i - 1], snapshots_[i]);
    for (size_t l = 0; l < changed.size() && l < points.size(); ++l) points[l] << QPointF(snapshots_[i].step, changed[l]);
  }
  for (int l = 0; l < layers; ++l) stability_->setPoints(QString("layer %1").arg(l), points[static_cast<size_t>(l)]);
  stability_page_->setSnapshots(snapshots_);
}

void RoutingPanel::setReadingLayer(int layer) {
  if (read_layer_->count() == 0) return;
  read_layer_->setCurrentIndex(std::clamp(layer, 0, read_layer_->count() - 1));
}

void RoutingPanel::setHighlightedExpert(int expert) { highlight_->setCurrentIndex(expert + 1); }

void RoutingPanel::pin(int column) {
  heatmap_->setPinnedColumn(column);
  compare_->setPinnedColumn(column);
  if (column >= 0) {
    heatmap_->scrollToColumn(column);
    compare_->scrollToColumn(column);
  }
  reading_->setPinned(column);
  detail_->setPosition(column);
}

void RoutingPanel::addSnapshot(const RoutingTrace& snapshot) {
  const bool at_end = slider_->value() == slider_->maximum();
  snapshots_ << snapshot;
  updateStability();
  compare_snapshot_->addItem(QString("step %1").arg(snapshot.step));
  slider_->setRange(0, snapshots_.size() - 1);
  if (at_end || snapshots_.size() == 1) slider_->setValue(snapshots_.size() - 1);
  if (snapshots_.size() == 1) showSnapshot(0);
}

void RoutingPanel::setSnapshots(const QList<RoutingTrace>& snapshots) {
  snapshots_.clear();
  updateStability();
  compare_snapshot_->clear();
  for (const auto& s : snapshots) addSnapshot(s);
  if (!snapshots_.isEmpty()) {
    slider_->setValue(snapshots_.size() - 1);
    compare_snapshot_->setCurrentIndex(0);
  }
}

void RoutingPanel::showSnapshot(int index) {
  if (index < 0 || index >= snapshots_.size()) return;
  step_label_->setText(QString("step %1 (%2 of %3)").arg(snapshots_[index].step).arg(index + 1).arg(snapshots_.size()));
  if (source_->currentIndex() == Snapshots) showTrace(snapshots_[index]);
}

void RoutingPanel::setValidationText(const QString& text) {
  validation_text_ = text;
  offset_->setRange(0, std::max(0, static_cast<int>(text.size()) - 1));
}

void RoutingPanel::setGeneratedText(const QString& text) { generated_text_ = text; }

void RoutingPanel::setSource(Source s) {
  source_->blockSignals(true);
  source_->setCurrentIndex(s);
  source_->blockSignals(false);
  snapshot_row_->setVisible(s == Snapshots);
  validation_row_->setVisible(s == Validation);
  input_row_->setVisible(s == OwnText);
  trace_button_->setVisible(s != Snapshots);
  compare_snapshot_->setEnabled(s == Snapshots);
  auto_trace_.stop();
  if (s == Snapshots) {
    showSnapshot(slider_->value());
    return;
  }
  // the old trace belongs to another text: clear it, then trace the new source
  showTrace(RoutingTrace{});
  requestTrace();
}

void RoutingPanel::setCompare(bool on) {
  compare_box_->setChecked(on);
  compare_row_->setVisible(on);
  compare_->setVisible(on);
  if (on) compare_->setTrace(source_->currentIndex() == Snapshots && compare_snapshot_->currentIndex() >= 0
                                 ? snapshots_.value(compare_snapshot_->currentIndex())
                                 : current_);
}

void RoutingPanel::setTraceCapacity(bool on) { capacity_box_->setChecked(on); }

QString RoutingPanel::shownText() const { return QString::fromStdU32String(current_.text); }

QString RoutingPanel::status() const { return status_->text(); }

void RoutingPanel::traceFailed(const QString& why) { setStatus(why, true); }

void RoutingPanel::setStatus(const QString& text, bool error) {
  status_->setText(text);
  status_->setStyleSheet(error ? "color: #b00020;" : "");
  status_->setVisible(!text.isEmpty());
}

void RoutingPanel::streamGenerated(const InferenceModel& model, const QString& text) {
  generated_text_ = text;
  if (source_->currentIndex() == Generated) traceWith(model, text);
}

void RoutingPanel::requestTrace() {
  QString text;
  switch (source_->currentIndex()) {
    case Validation: text = validation_text_.mid(offset_->value(), length_->value()); break;
    case OwnText: text = input_->toPlainText(); break;
    case Generated: text = generated_text_; break;
    default: return;
  }
  if (text.isEmpty()) {
    setStatus(source_->currentIndex() == Generated ? "Generate some text first (Generation panel)."
                                                   : "There is no text to trace.");
    return;
  }
  setStatus("Tracing…");
  Q_EMIT traceRequested(text);
}

void RoutingPanel::traceWith(const InferenceModel& model, const QString& text) {
  if (watcher_.isRunning()) {
    pending_trace_ = {model, text};
    return;
  }
  const std::string utf8 = text.toStdString();
  // long texts route in batches: the status line counts them, posted to the GUI thread
  auto progress = [this](int64_t done, int64_t total) {
    const QString text = QString("Tracing… %1 of %2 characters").arg(done).arg(total);
    QMetaObject::invokeMethod(this, [this, text] { setStatus(text); }, Qt::QueuedConnection);
  };
  const bool capacity = capacity_box_->isChecked();
  watcher_.setFuture(
      QtConcurrent::run([model, utf8, progress, capacity] { return model.trace(utf8, progress, capacity); }));
}

void RoutingPanel::showTrace(const RoutingTrace& trace) {
  current_ = trace;
  static const char* titles[] = {"Routing of the probe text", "Routing of the validation text", "Routing of your text",
                                 "Routing of the generated text"};
  const QString title = titles[std::clamp(source_->currentIndex(), 0, 3)];
  heatmap_->setDescription(title, run_name_, config_);
  compare_->setDescription(title, run_name_, config_);
  heatmap_->setTrace(trace);
  if (compare_->isVisible() && !(source_->currentIndex() == Snapshots && compare_snapshot_->currentIndex() >= 0))
    compare_->setTrace(trace);
  reading_->setTrace(trace);
  detail_->setTrace(trace);
  intervention_->setText(QString::fromStdU32String(trace.text));
  fillExpertCombo(trace.n_experts);
  countShown();
}

void RoutingPanel::countShown() {
  shown_from_validation_ = stats_source_->currentIndex() == 1 && validation_counts_;
  if (shown_from_validation_) {
    shown_counts_ = *validation_counts_;
  } else {
    shown_counts_ = RoutingCounts{};
    shown_counts_.add(current_);
  }
  updateAffinity();
}

void RoutingPanel::updateAffinity() {
  const int layer = affinity_layer_->currentIndex();
  // a trace's: the subtitle Export all figures gives the same trace
  QString about = trace_subtitle(run_name_, config_, current_);
  if (shown_from_validation_ || current_.empty()) {
    about = QString::fromStdString(figure_subtitle(run_name_.toStdString(), config_, -1, TraceCapacity::not_a_trace));
    if (shown_from_validation_) about += QString(" · whole validation split (%1 characters)").arg(shown_counts_.characters());
  }
  affinity_->setAffinity(shown_counts_.affinity(layer), layer, about);
  experts_->setCounts(shown_counts_, about);
  top_table_->setRowCount(shown_counts_.experts());
  for (int e = 0; e < shown_counts_.experts(); ++e) {
    QStringList top;
    for (const auto& [c, share] : shown_counts_.top_characters(layer, e, 12))
      top << QString("'%1' %2%").arg(visible_char(c)).arg(100 * share, 0, 'f', 1);
    top_table_->setItem(e, 0, new QTableWidgetItem(QString("E%1").arg(e)));
    top_table_->setItem(e, 1, new QTableWidgetItem(top.isEmpty() ? QString("(no assignments)") : top.join("  ")));
  }
}

void RoutingPanel::setLoadHistory(const QVector<LayerHistory>& layers) { experts_->setLoadHistory(layers); }

void RoutingPanel::setRunName(const QString& name) {
  run_name_ = name;
  stability_page_->setRunName(name, config_);
  intervention_->setRunName(name);
  if (!current_.empty()) showTrace(current_);
}

void RoutingPanel::highlight(int column) {
  reading_->setHovered(column);
  if (column >= 0) reading_->ensureVisible(column);
  if (reading_->pinnedPosition() < 0) detail_->setPosition(column);
}

}  // namespace moewb
