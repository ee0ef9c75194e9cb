#include "ui/render/routing_text.h"

#include <QStringList>

namespace moewb {

QString visible_char(char32_t c) {
  switch (c) {
    case U' ': return QStringLiteral("·");
    case U'\n': return QStringLiteral("↵");
    case U'\t': return QStringLiteral("⇥");
    case U'\r': return QStringLiteral("␍");
    default: return QString::fromUcs4(&c, 1);
  }
}

QString csv_cell(const QString& text) {
  if (!text.contains(',') && !text.contains('"') && !text.contains('\n')) return text;
  return '"' + QString(text).replace("\"", "\"\"") + '"';
}

QString routing_tooltip(const RoutingTrace& trace, int layer, int position, int expert) {
  if (layer < 0 || layer >= static_cast<int>(trace.layers.size()) || position < 0 || position >= trace.length())
    return {};
  const LayerTrace& l = trace.layers[static_cast<size_t>(layer)];
  const bool sigmoid = trace.routing == RoutingMode::sigmoid;
  QStringList lines;
  lines << QString("<b>'%1'</b> at position %2 · layer %3")
               .arg(visible_char(trace.text[static_cast<size_t>(position)]).toHtmlEscaped())
               .arg(position)
               .arg(layer);
  if (expert >= 0 && expert < l.n_experts) {
    QString role = "not chosen";
    for (int s = 0; s < l.slots; ++s) {
      if (l.chosen_at(position, s) != expert) continue;
      role = l.dropped_at(position, s) ? "chosen, dropped (capacity)"
                                       : QString("chosen, weight %1").arg(l.weight_at(position, s), 0, 'f', 3);
    }
    lines << QString("<b>Expert E%1</b>: %2 %3 — %4")
                 .arg(expert)
                 .arg(trace.routing == RoutingMode::sigmoid ? "gate" : "probability")
                 .arg(l.prob(position, expert), 0, 'f', 3)
                 .arg(role);
  }
  QStringList probs;
  for (int e = 0; e < l.n_experts; ++e) probs << QString("E%1 %2").arg(e).arg(l.prob(position, e), 0, 'f', 3);
  lines << QString("%1: %2").arg(sigmoid ? "gates σ(z)" : trace.routing == RoutingMode::hash ? "assignment" : "probabilities",
                                 probs.join(", "));
  QStringList chosen;
  for (int s = 0; s < l.slots; ++s) {
    const int e = l.chosen_at(position, s);
    if (e < 0) continue;
    if (l.dropped_at(position, s)) chosen << QString("E%1 dropped (capacity)").arg(e);
    else chosen << QString("E%1 × %2").arg(e).arg(l.weight_at(position, s), 0, 'f', 3);
  }
  lines << QString("chosen: %1").arg(chosen.isEmpty() ? QString("none") : chosen.join(", "));
  if (sigmoid) lines << QString("active experts: %1 of %2").arg(l.active_count(position)).arg(l.n_experts);
  if (l.any_dropped(position)) lines << "<span style='color:#b00020'>capacity dropped an assignment</span>";
  return "<div style=\"white-space:nowrap\">" + lines.join("<br>") + "</div>";
}

}  // namespace moewb
