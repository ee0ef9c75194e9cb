#include "ui/routing/routing_column_detail.h"

#include <QPainter>

#include <algorithm>

#include "ui/render/palette.h"
#include "ui/render/routing_text.h"

namespace moewb {

RoutingColumnDetail::RoutingColumnDetail(QWidget* parent) : QWidget(parent) {
  setObjectName("column_detail");
  setToolTip("The pinned character (click one in the heatmap or the text; arrows move it): each layer's router "
             "probabilities per expert. Outlined = chosen, with its combine weight; hatched = dropped by capacity.");
}

void RoutingColumnDetail::setTrace(const RoutingTrace& trace) {
  trace_ = trace;
  if (position_ >= trace_.length()) position_ = -1;
  update();
}

void RoutingColumnDetail::setPosition(int position) {
  position_ = position;
  update();
}

void RoutingColumnDetail::setCurrentLayer(int layer) {
  layer_ = layer;
  update();
}

void RoutingColumnDetail::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  const QPalette& pal = palette();
  p.fillRect(rect(), pal.color(QPalette::Base));
  const QFontMetrics fm(font());
  const int pad = 8, line = fm.height();
  if (position_ < 0 || position_ >= trace_.length() || trace_.empty()) {
    p.setPen(pal.color(QPalette::PlaceholderText));
    p.drawText(rect().adjusted(pad, pad, -pad, -pad), Qt::AlignCenter | Qt::TextWordWrap,
               "Click a character (heatmap or text) to see every layer's routing of it here.");
    return;
  }
  p.setPen(pal.color(QPalette::Text));
  QFont bold = font();
  bold.setBold(true);
  p.setFont(bold);
  p.drawText(pad, pad + fm.ascent(),
             QString("'%1' at position %2").arg(visible_char(trace_.text[static_cast<size_t>(position_)])).arg(position_));
  p.setFont(font());
  const int layers = static_cast<int>(trace_.layers.size());
  const int n = trace_.n_experts;
  const int label_w = fm.horizontalAdvance("L00 ") + 4;
  const int top = pad + line + 6;
  const int row_h = std::clamp((height() - top - pad) / std::max(1, layers), line + 4, 4 * line);
  const double bar_w = std::max(2.0, (width() - 2 * pad - label_w) / static_cast<double>(n));
  for (int l = 0; l < layers; ++l) {
    const LayerTrace& lt = trace_.layers[static_cast<size_t>(l)];
    const int y = top + l * row_h;
    QFont label_font = font();
    label_font.setBold(l == layer_);
    p.setFont(label_font);
    p.setPen(pal.color(QPalette::Text));
    p.drawText(QRect(pad, y, label_w, row_h - 4), Qt::AlignVCenter | Qt::AlignLeft, QString("L%1").arg(l));
    p.setFont(font());
    const double bar_max = row_h - 6;
    for (int e = 0; e < n; ++e) {
      const double prob = std::clamp(static_cast<double>(lt.prob(position_, e)), 0.0, 1.0);
      const QRectF slot(pad + label_w + e * bar_w, y, bar_w - 1, bar_max);
      p.fillRect(slot, pal.color(QPalette::AlternateBase));
      const QRectF bar(slot.left(), slot.bottom() - prob * bar_max, slot.width(), prob * bar_max);
      p.fillRect(bar, expert_color(e, pal.color(QPalette::Base)));
      for (int s = 0; s < lt.slots; ++s) {
        if (lt.chosen_at(position_, s) != e) continue;
        p.setPen(QPen(pal.color(QPalette::Text), 2));
        p.setBrush(lt.dropped_at(position_, s) ? QBrush(pal.color(QPalette::Text), Qt::BDiagPattern) : Qt::NoBrush);
        p.drawRect(slot.adjusted(1, 1, -1, -1));
        if (bar_w >= fm.horizontalAdvance("0.00") + 4 && !lt.dropped_at(position_, s))
          p.drawText(slot.adjusted(0, 2, 0, 0), Qt::AlignHCenter | Qt::AlignTop,
                     QString::number(lt.weight_at(position_, s), 'f', 2));
      }
    }
  }
}

}  // namespace moewb
