#include "affinity_view.h"

#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPainter>

#include "palette.h"
#include "routing_text.h"

namespace moewb {

AffinityView::AffinityView(QWidget* parent) : QTableWidget(parent) {
  setEditTriggers(QAbstractItemView::NoEditTriggers);
  setSelectionMode(QAbstractItemView::NoSelection);
  verticalHeader()->setDefaultSectionSize(20);
  horizontalHeader()->setDefaultSectionSize(56);
  setMouseTracking(true);
  install_export_menu(viewport(), this);
}

namespace {
constexpr int kCell = 34, kRow = 18, kLabel = 70, kHeader = 40;
}

QSize AffinityView::naturalSize() const {
  const int experts = matrix_.share.empty() ? 1 : static_cast<int>(matrix_.share.front().size());
  return {kLabel + experts * kCell + 20, kHeader + static_cast<int>(matrix_.characters.size()) * kRow + 10};
}

void AffinityView::paintFigure(QPainter& p, const QRect& target) {
  const QSize natural = naturalSize();
  p.save();
  p.translate(target.topLeft());
  p.scale(static_cast<double>(target.width()) / natural.width(), static_cast<double>(target.height()) / natural.height());
  p.setPen(Qt::black);
  p.drawText(QRect(0, 0, natural.width(), 18), Qt::AlignLeft, QString("Layer %1: share of each character's assignments").arg(layer_));
  const int experts = matrix_.share.empty() ? 0 : static_cast<int>(matrix_.share.front().size());
  for (int e = 0; e < experts; ++e)
    p.drawText(QRect(kLabel + e * kCell, 20, kCell, 18), Qt::AlignCenter, QString("E%1").arg(e));
  for (size_t r = 0; r < matrix_.characters.size(); ++r) {
    const int y = kHeader + static_cast<int>(r) * kRow;
    p.setPen(Qt::black);
    p.drawText(QRect(0, y, kLabel - 6, kRow), Qt::AlignRight | Qt::AlignVCenter,
               QString("'%1' ×%2").arg(visible_char(matrix_.characters[r])).arg(matrix_.counts[r]));
    for (int e = 0; e < experts; ++e) {
      const double v = matrix_.share[r][static_cast<size_t>(e)];
      const QRect cell(kLabel + e * kCell, y, kCell - 1, kRow - 1);
      const QColor bg = viridis(v);
      p.fillRect(cell, bg);
      p.setPen(bg.lightnessF() > 0.55 ? Qt::black : Qt::white);
      p.drawText(cell, Qt::AlignCenter, QString::number(v * 100, 'f', 0));
    }
  }
  p.restore();
}

QString AffinityView::dataCsv() const {
  QString out = QString("# layer %1: for each character of the traced text (by descending frequency), the share of "
                        "its router assignments going to each expert; rows sum to 1\ncharacter,count")
                    .arg(layer_);
  const int experts = matrix_.share.empty() ? 0 : static_cast<int>(matrix_.share.front().size());
  for (int e = 0; e < experts; ++e) out += QString(",E%1").arg(e);
  out += "\n";
  for (size_t r = 0; r < matrix_.characters.size(); ++r) {
    out += csv_cell(visible_char(matrix_.characters[r])) + QString(",%1").arg(matrix_.counts[r]);
    for (double v : matrix_.share[r]) out += QString(",%1").arg(v, 0, 'g', 9);
    out += "\n";
  }
  return out;
}

QString AffinityView::dataJson() const {
  QJsonArray rows;
  for (size_t r = 0; r < matrix_.characters.size(); ++r) {
    QJsonArray shares;
    for (double v : matrix_.share[r]) shares.append(v);
    rows.append(QJsonObject{{"character", QString::fromUcs4(&matrix_.characters[r], 1)},
                            {"count", matrix_.counts[r]}, {"share", shares}});
  }
  return QString::fromUtf8(QJsonDocument(QJsonObject{{"layer", layer_},
                                                     {"convention", "share of each character's assignments per expert"},
                                                     {"rows", rows}})
                               .toJson());
}

void AffinityView::setAffinity(const AffinityMatrix& m, int layer) {
  matrix_ = m;
  layer_ = layer;
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
