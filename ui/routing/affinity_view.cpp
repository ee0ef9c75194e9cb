#include "ui/routing/affinity_view.h"

#include <QHelpEvent>
#include <QPainter>
#include <QToolTip>

#include "ui/render/routing_text.h"

namespace moewb {

namespace {
constexpr int kMinCellHeight = 14;  // below this the canvas scrolls rather than shrinking the rows

// Paints the figure at the canvas's size and answers tooltips from the same layout.
class AffinityCanvas : public QWidget {
 public:
  explicit AffinityCanvas(AffinityView* view) : view_(view) { setMouseTracking(true); }

 protected:
  void paintEvent(QPaintEvent*) override {
    QPainter p(this);
    view_->figure().paint(p, rect(), screen_style(this));
  }
  bool event(QEvent* e) override {
    if (e->type() == QEvent::ToolTip) {
      const auto* help = static_cast<QHelpEvent*>(e);
      const QString tip = view_->toolTipAt(help->pos());
      if (tip.isEmpty()) QToolTip::hideText();
      else QToolTip::showText(help->globalPos(), tip, this);
      return true;
    }
    return QWidget::event(e);
  }

 private:
  AffinityView* view_;
};
}  // namespace

AffinityView::AffinityView(QWidget* parent) : QScrollArea(parent) {
  setWidget(new AffinityCanvas(this));
  setWidgetResizable(true);
  setFrameShape(QFrame::NoFrame);
  install_export_menu(this, this);
}

void AffinityView::setAffinity(const AffinityMatrix& matrix, int layer, const QString& subtitle) {
  figure_ = AffinityFigure(matrix, layer, subtitle);
  const QSizeF natural = figure_.naturalSize();
  const int rows = static_cast<int>(matrix.characters.size());
  widget()->setMinimumSize(static_cast<int>(natural.width() * 0.6),
                           static_cast<int>(natural.height() - rows * (16 - kMinCellHeight)));
  widget()->update();
}

QString AffinityView::toolTipAt(const QPoint& canvasPoint) const {
  const AffinityLayout l = figure_.layout(widget()->rect(), screen_style(widget()), widget());
  const auto cell = l.cellAt(canvasPoint);
  if (!cell) return {};
  const auto [r, e] = *cell;
  const AffinityMatrix& m = figure_.matrix();
  return QString("'%1' (%2 occurrences): %3% of its assignments go to E%4")
      .arg(visible_char(m.characters[static_cast<size_t>(r)]))
      .arg(m.counts[static_cast<size_t>(r)])
      .arg(m.share[static_cast<size_t>(r)][static_cast<size_t>(e)] * 100, 0, 'f', 1)
      .arg(e);
}

}  // namespace moewb
