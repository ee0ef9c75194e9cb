#include "ui/routing/expert_profile_view.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QPixmap>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QVBoxLayout>

#include <algorithm>

#include "ui/render/palette.h"

namespace moewb {

namespace {
constexpr int kTopCharacters = 12;
constexpr int kListWidth = 150;
const QSize kMinimumCanvas{660, 340};  // below this the profile scrolls rather than squeezing the windows

// Paints the figure at the canvas's size.
class ProfileCanvas : public QWidget {
 public:
  explicit ProfileCanvas(const ExpertProfileView* view) : view_(view) {}

 protected:
  void paintEvent(QPaintEvent*) override {
    QPainter p(this);
    view_->figure().paint(p, rect(), screen_style(this));
  }

 private:
  const ExpertProfileView* view_;
};

QIcon swatch(int expert, const QColor& background) {
  QPixmap pixmap(12, 12);
  pixmap.fill(expert_color(expert, background));
  return QIcon(pixmap);
}
}  // namespace

ExpertProfileView::ExpertProfileView(QWidget* parent) : QWidget(parent) {
  layer_ = new QComboBox;
  layer_->setObjectName("expert_layer");
  layer_->setToolTip("Layer whose experts are listed (PgUp / PgDn from the list).");
  experts_ = new QListWidget;
  experts_->setObjectName("expert_list");
  experts_->setToolTip("Each expert with its share of the layer's router assignments; ↑/↓ choose, PgUp/PgDn change "
                       "the layer.");
  experts_->setFixedWidth(kListWidth);
  experts_->installEventFilter(this);
  canvas_ = new ProfileCanvas(this);
  canvas_->setObjectName("expert_profile");
  canvas_->setMinimumSize(kMinimumCanvas);
  canvas_->setToolTip("Top characters (share of the expert's assignments), the characters routed to it with the "
                      "highest router probability with the text before them (the routed character on the expert's "
                      "colour), and its load share at each evaluation. Right-click to export.");
  canvas_->installEventFilter(this);
  install_export_menu(canvas_, this);
  scroll_ = new QScrollArea;
  scroll_->setWidget(canvas_);
  scroll_->setWidgetResizable(true);
  scroll_->setFrameShape(QFrame::NoFrame);

  auto* side = new QVBoxLayout;
  side->setContentsMargins(0, 0, 0, 0);
  side->addWidget(new QLabel("Layer"));
  side->addWidget(layer_);
  side->addWidget(new QLabel("Expert"));
  side->addWidget(experts_, 1);
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(side);
  layout->addWidget(scroll_, 1);

  connect(layer_, &QComboBox::currentIndexChanged, this, [this] {
    fillExperts();
    updateFigure();
  });
  connect(experts_, &QListWidget::currentRowChanged, this, [this] { updateFigure(); });
  fillLayers();
}

void ExpertProfileView::setCounts(const RoutingCounts& counts, const QString& about) {
  counts_ = counts;
  about_ = about;
  fillLayers();
  fillExperts();
  updateFigure();
}

void ExpertProfileView::setLoadHistory(const QVector<LayerHistory>& layers) {
  load_ = layers;
  updateFigure();
}

void ExpertProfileView::select(int layer, int expert) {
  {
    const QSignalBlocker block(layer_);
    if (layer >= 0 && layer < layer_->count()) layer_->setCurrentIndex(layer);
  }
  fillExperts();
  const QSignalBlocker block(experts_);
  if (expert >= 0 && expert < experts_->count()) experts_->setCurrentRow(expert);
  updateFigure();
}

int ExpertProfileView::layer() const { return layer_->currentIndex(); }

int ExpertProfileView::expert() const { return experts_->currentRow(); }

void ExpertProfileView::fillLayers() {
  const int layers = counts_.layers();
  if (layer_->count() == layers) return;
  const int old = layer_->currentIndex();
  const QSignalBlocker block(layer_);
  layer_->clear();
  for (int l = 0; l < layers; ++l) layer_->addItem(QString("Layer %1").arg(l));
  // the last layer by default, where routing usually specialises most
  if (layers > 0) layer_->setCurrentIndex(old >= 0 && old < layers ? old : layers - 1);
}

void ExpertProfileView::fillExperts() {
  const int layer = layer_->currentIndex(), n = counts_.experts();
  const int old = std::max(0, experts_->currentRow());
  const QSignalBlocker block(experts_);
  if (experts_->count() != n) {
    experts_->clear();
    for (int e = 0; e < n; ++e) experts_->addItem(new QListWidgetItem(swatch(e, palette().color(QPalette::Base)), {}));
  }
  const int64_t total = counts_.layer_assignments(layer);
  for (int e = 0; e < n; ++e) {
    const double share = total > 0 ? static_cast<double>(counts_.expert_assignments(layer, e)) / total : 0;
    experts_->item(e)->setText(QString("E%1   %2 %").arg(e).arg(100 * share, 0, 'f', 1));
  }
  if (n > 0) experts_->setCurrentRow(std::min(old, n - 1));
}

void ExpertProfileView::updateFigure() {
  const int layer = layer_->currentIndex(), expert = experts_->currentRow();
  ExpertProfile profile;
  if (layer >= 0 && expert >= 0) {
    profile = ExpertProfile::of(counts_, layer, expert, kTopCharacters);
    if (layer < load_.size() && expert < load_[layer].load.size()) profile.load = load_[layer].load[expert];
  }
  figure_ = ExpertProfileFigure(profile, about_);
  canvas_->update();
  Q_EMIT selectionChanged(layer, expert);
}

bool ExpertProfileView::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::KeyPress) {
    const int key = static_cast<QKeyEvent*>(event)->key();
    if ((key == Qt::Key_PageUp || key == Qt::Key_PageDown) && layer_->count() > 0) {
      layer_->setCurrentIndex(std::clamp(layer_->currentIndex() + (key == Qt::Key_PageDown ? 1 : -1), 0,
                                         layer_->count() - 1));
      return true;
    }
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace moewb
