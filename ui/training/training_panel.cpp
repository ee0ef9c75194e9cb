#include "ui/training/training_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "ui/render/palette.h"

namespace moewb {

namespace {
constexpr int kRedrawMs = 40;

// Wall time at a step: the elapsed_s of the metrics rows (every logged step and evaluation has one), linear
// between rows for a step that has none and held at the ends, so no point is ever left without a time.
double elapsed_at(const QList<QPointF>& elapsed, double step) {
  if (elapsed.isEmpty()) return std::nan("");
  const auto after = std::lower_bound(elapsed.begin(), elapsed.end(), step,
                                      [](const QPointF& p, double s) { return p.x() < s; });
  if (after == elapsed.begin()) return after->y();
  if (after == elapsed.end()) return elapsed.last().y();
  const QPointF& before = *(after - 1);
  if (after->x() == before.x()) return after->y();
  return before.y() + (step - before.x()) / (after->x() - before.x()) * (after->y() - before.y());
}

PlotSpec on_x_axis(PlotSpec spec, XAxis axis, const TrainingHistory& h, const Config& c) {
  if (axis == XAxis::steps) return spec;
  // tokens: each step trains batch_size sequences of block_size characters (the config has no gradient
  // accumulation, so that is all of them)
  const double tokens_per_step = static_cast<double>(c.batch_size) * c.block_size;
  for (auto& series : spec.series)
    for (auto& p : series.points)
      p.setX(axis == XAxis::tokens ? p.x() * tokens_per_step : elapsed_at(h.elapsed, p.x()));
  if (axis == XAxis::tokens) {
    spec.x_title = "tokens";
    spec.x_description = "tokens trained (step × batch_size × block_size)";
  } else {
    spec.x_title = "time (s)";
    spec.x_description = "wall time of the run in seconds, across resumes";
  }
  return spec;
}
}  // namespace

TrainingPanel::TrainingPanel(QWidget* parent)
    : QWidget(parent),
      loss_(new LineChart),
      lr_(new LineChart),
      throughput_(new LineChart),
      load_(new LineChart),
      balance_(new LineChart) {
  auto* controls = new QHBoxLayout;
  log_scale_ = new QCheckBox("Log scale");
  log_scale_->setToolTip("Plot the loss on a logarithmic axis.");
  connect(log_scale_, &QCheckBox::toggled, this, &TrainingPanel::setLogScale);
  smoothing_ = new QSlider(Qt::Horizontal);
  smoothing_->setRange(0, 99);
  smoothing_->setValue(60);
  smoothing_->setMaximumWidth(160);
  smoothing_->setToolTip("Exponential moving average of the training loss, debiased as in TensorBoard.");
  smoothing_label_ = new QLabel;
  connect(smoothing_, &QSlider::valueChanged, this, [this](int v) { setSmoothing(v / 100.0); });
  layer_ = new QComboBox;
  layer_->setToolTip("MoE layer shown in the expert-load and balance charts.");
  connect(layer_, &QComboBox::currentIndexChanged, this, [this] { redrawLayerCharts(); });
  controls->addWidget(log_scale_);
  controls->addSpacing(12);
  controls->addWidget(new QLabel("Smoothing"));
  controls->addWidget(smoothing_);
  controls->addWidget(smoothing_label_);
  controls->addSpacing(12);
  x_axis_ = new QComboBox;
  x_axis_->addItems({"steps", "tokens", "time"});
  x_axis_->setToolTip("What every chart's x axis counts: training steps, tokens trained (step × batch × context) "
                      "or the run's wall time in seconds.");
  connect(x_axis_, &QComboBox::currentIndexChanged, this, [this](int i) { setXAxis(static_cast<XAxis>(i)); });
  controls->addWidget(new QLabel("x axis"));
  controls->addWidget(x_axis_);
  controls->addStretch();
  controls->addWidget(new QLabel("Layer"));
  controls->addWidget(layer_);

  scalars_ = new QLabel;
  scalars_->setWordWrap(true);
  scalars_->setToolTip("Latest evaluation: normalised load entropy H(f)/log N (1 = balanced), largest load share, "
                       "share of assignments dropped by capacity, mean experts that processed a character, "
                       "experts with fᵢ < 1/(10N).");

  grid_ = new QGridLayout;
  auto* grid = grid_;
  for (int col = 0; col < 4; ++col) grid->setColumnStretch(col, 1);
  grid->setRowStretch(0, 3);
  grid->setRowStretch(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addLayout(grid, 1);
  layout->addWidget(scalars_);

  redraw_.setInterval(kRedrawMs);
  connect(&redraw_, &QTimer::timeout, this, &TrainingPanel::flush);
  redraw_.start();
  setSmoothing(0.6);
  reset(Config{});
}

void TrainingPanel::reset(const Config& config) { load(TrainingHistory{}, config); }

void TrainingPanel::load(const TrainingHistory& history, const Config& config) {
  history_ = history;
  config_ = config;
  layer_->blockSignals(true);
  layer_->clear();
  if (config.is_moe())
    for (int l = 0; l < config.n_layer; ++l) layer_->addItem(QString("layer %1").arg(l));
  layer_->setEnabled(config.is_moe());
  layer_->blockSignals(false);
  load_->setVisible(config.is_moe());
  balance_->setVisible(config.is_moe());
  // a dense model has no expert charts: loss and the small charts take the whole width
  const bool moe = config.is_moe();
  for (auto* chart : charts()) chart->resetZoom();  // another run: its own range
  grid_->addWidget(loss_, 0, 0, 1, moe ? 2 : 4);
  grid_->addWidget(lr_, 1, 0, 1, moe ? 1 : 2);
  grid_->addWidget(throughput_, 1, moe ? 1 : 2, 1, moe ? 1 : 2);
  if (moe) {
    grid_->addWidget(load_, 0, 2, 1, 2);
    grid_->addWidget(balance_, 1, 2, 1, 2);
  }
  dirty_ = true;
  flush();
}

void TrainingPanel::showLayer(int layer) {
  layer_->setCurrentIndex(layer);
  redrawLayerCharts();
}

void TrainingPanel::addStep(const StepReport& r) {
  if (!r.logged) return;
  history_.add(r);
  dirty_ = true;
}

void TrainingPanel::addEval(const EvalReport& r) {
  history_.add(r);
  dirty_ = true;
}

void TrainingPanel::setLogScale(bool on) {
  log_scale_->setChecked(on);
  showSpec(loss_, loss_plot(history_, figureOptions()));
}

void TrainingPanel::setSmoothing(double weight) {
  smoothing_->setValue(static_cast<int>(weight * 100 + 0.5));
  smoothing_label_->setText(QString::number(weight, 'f', 2));
  showSpec(loss_, loss_plot(history_, figureOptions()));
}

void TrainingPanel::setXAxis(XAxis axis) {
  x_axis_->setCurrentIndex(static_cast<int>(axis));
  for (auto* chart : charts()) chart->resetZoom();
  dirty_ = true;
  flush();
}

XAxis TrainingPanel::xAxis() const { return static_cast<XAxis>(x_axis_->currentIndex()); }

void TrainingPanel::showSpec(LineChart* chart, PlotSpec spec) const {
  chart->setSpec(on_x_axis(std::move(spec), xAxis(), history_, config_));
}

void TrainingPanel::setRunName(const QString& name) {
  run_name_ = name;
  dirty_ = true;
  flush();
}

TrainingFigureOptions TrainingPanel::figureOptions() const {
  TrainingFigureOptions o;
  o.run = run_name_;
  o.config = config_;
  o.smoothing = smoothing_->value() / 100.0;
  o.log_loss = log_scale_->isChecked();
  return o;
}

void TrainingPanel::flush() {
  if (!dirty_) return;
  dirty_ = false;
  const TrainingFigureOptions o = figureOptions();
  showSpec(loss_, loss_plot(history_, o));
  showSpec(lr_, lr_plot(history_, o));
  showSpec(throughput_, throughput_plot(history_, o));
  redrawLayerCharts();
}

void TrainingPanel::redrawLayerCharts() {
  const int l = layer_->currentIndex();
  showSpec(load_, expert_load_plot(history_, l, config_.is_moe() ? config_.n_experts : 0, figureOptions()));
  showSpec(balance_, load_balance_plot(history_, l, figureOptions()));
  if (l < 0 || l >= history_.layers.size()) {
    scalars_->setText(config_.is_moe() ? "Load balance: waiting for the first evaluation."
                                       : "Dense model: no routing, so no expert load to show.");
    return;
  }
  const LayerHistory& h = history_.layers[l];
  if (!h.entropy.isEmpty())
    scalars_->setText(QString("Layer %1 at step %2 — load entropy %3 · max share %4 · dropped %5 · "
                              "mean active experts %6 · dead experts %7")
                          .arg(l)
                          .arg(h.entropy.last().x())
                          .arg(h.entropy.last().y(), 0, 'f', 3)
                          .arg(h.max_share.last().y(), 0, 'f', 3)
                          .arg(h.dropped.last().y(), 0, 'f', 3)
                          .arg(h.active.last().y(), 0, 'f', 2)
                          .arg(h.dead.last().y()));
}

}  // namespace moewb
