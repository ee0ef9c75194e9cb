// Text for routing views: characters made visible (space, newline, tab) and the hover tooltip of a cell.
#pragma once

#include <QString>

#include "core/trace/routing_trace.h"

namespace moewb {

// '·' for a space, '↵' for a newline, '⇥' for a tab, the character itself otherwise.
QString visible_char(char32_t c);
// A CSV cell: quoted (with doubled quotes) when it holds a comma, a quote or a newline.
QString csv_cell(const QString& text);
// Character, position, layer, every expert's probability, the chosen experts with weights and drop flags; with
// `expert` (the row under the pointer in a per-expert view), first what that expert got.
QString routing_tooltip(const RoutingTrace& trace, int layer, int position, int expert = -1);

}  // namespace moewb
