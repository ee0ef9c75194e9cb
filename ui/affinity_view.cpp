#include "affinity_view.h"

#include <QHeaderView>

#include "palette.h"
#include "routing_text.h"

namespace moewb {

AffinityView::AffinityView(QWidget* parent) : QTableWidget(parent) {
  setEditTriggers(QAbstractItemView::NoEditTriggers);
  setSelectionMode(QAbstractItemView::NoSelection);
  verticalHeader()->setDefaultSectionSize(20);
  horizontalHeader()->setDefaultSectionSize(56);
  setMouseTracking(true);
}

void AffinityView::setAffinity(const AffinityMatrix& m) {
  clear();
  const int experts = m.share.empty() ? 0 : static_cast<int>(m.share.front().size());
  setRowCount(static_cast<int>(m.characters.size()));
  setColumnCount(experts);
  QStringList columns, rows;
  for (int e = 0; e < experts; ++e) columns << QString("E%1").arg(e);
  for (size_t i = 0; i < m.characters.size(); ++i)
    rows << QString("'%1' ×%2").arg(visible_char(m.characters[i])).arg(m.counts[i]);
  setHorizontalHeaderLabels(columns);
  setVerticalHeaderLabels(rows);
  for (int r = 0; r < rowCount(); ++r) {
    for (int e = 0; e < experts; ++e) {
      const double v = m.share[static_cast<size_t>(r)][static_cast<size_t>(e)];
      auto* item = new QTableWidgetItem(QString::number(v * 100, 'f', 0) + "%");
      item->setTextAlignment(Qt::AlignCenter);
      const QColor bg = viridis(v);
      item->setBackground(bg);
      item->setForeground(bg.lightnessF() > 0.55 ? Qt::black : Qt::white);
      item->setToolTip(QString("'%1' (%2 occurrences): %3% of its assignments go to E%4")
                           .arg(visible_char(m.characters[static_cast<size_t>(r)]))
                           .arg(m.counts[static_cast<size_t>(r)])
                           .arg(v * 100, 0, 'f', 1)
                           .arg(e));
      item->setData(Qt::UserRole, v);
      setItem(r, e, item);
    }
  }
}

}  // namespace moewb
