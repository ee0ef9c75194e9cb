// Routing stability per character: the change matrix of one layer over consecutive routing snapshots (its row
// means are the stability curve, identical snapshots change nothing, snapshots of different texts are not
// compared), the heatmap's cell geometry, colours and export (PNG/SVG/PDF, the CSV read back), and the Routing
// tab's Stability page with snapshots loaded from a run folder: cell values, layer choice, keyboard, hover.
#include <QtTest>

#include <QApplication>
#include <QComboBox>
#include <QJsonDocument>
#include <QTabWidget>
#include <QImage>
#include <QLabel>
#include <QMenu>
#include <QScrollBar>
#include <QSvgRenderer>

#include "core/base/files.h"
#include "core/runs/metrics_csv.h"
#include "core/trace/routing_stability.h"
#include "test_corpus.h"
#include "ui/render/figure_export.h"
#include "ui/render/palette.h"
#include "ui/render/routing_text.h"
#include "ui/render/stability_figure.h"
#include "ui/routing/routing_panel.h"
#include "ui/routing/stability_heatmap.h"
#include "ui/routing/stability_page.h"
#include "ui/shell/main_window.h"

using namespace moewb;

namespace {

// A top-k trace whose top experts are given per layer and character (-1: capacity dropped both assignments);
// the runner-up is the next expert with a smaller weight.
RoutingTrace trace_of(int step, const std::u32string& text, const std::vector<std::vector<int>>& tops, int experts = 3) {
  RoutingTrace t;
  t.step = step, t.routing = RoutingMode::topk, t.n_experts = experts, t.text = text;
  for (const auto& layer_tops : tops) {
    LayerTrace l;
    l.n_experts = experts, l.slots = 2;
    for (int top : layer_tops) {
      const int e = top < 0 ? 0 : top;
      for (int x = 0; x < experts; ++x) l.probs.push_back(x == e ? 0.6f : 0.4f / (experts - 1));
      l.chosen.insert(l.chosen.end(), {e, (e + 1) % experts});
      if (top < 0) {
        l.weights.insert(l.weights.end(), {0.0f, 0.0f});
        l.dropped.insert(l.dropped.end(), {1, 1});
      } else {
        l.weights.insert(l.weights.end(), {0.7f, 0.3f});
        l.dropped.insert(l.dropped.end(), {0, 0});
      }
    }
    t.layers.push_back(l);
  }
  return t;
}

// Four snapshots of "ab a" with two layers: layer 1 changes 'a' at 0 (E0 -> E2) then settles.
std::vector<RoutingTrace> four_snapshots() {
  return {trace_of(0, U"ab a", {{0, 1, 1, 0}, {0, 1, 2, 0}}), trace_of(250, U"ab a", {{0, 1, 1, 2}, {2, 1, 2, 0}}),
          trace_of(500, U"ab a", {{1, 1, 1, 2}, {2, 0, 2, -1}}), trace_of(750, U"ab a", {{1, 1, 1, 2}, {2, 0, 2, -1}})};
}

// The data rows of an exported CSV: header checked, one vector of fields per line.
std::vector<QStringList> csv_rows(const QString& csv) {
  std::vector<QStringList> rows;
  bool header = false;
  for (const QString& line : csv.split('\n', Qt::SkipEmptyParts)) {
    if (line.startsWith('#')) continue;
    if (!header) {
      header = true;
      if (line != "step_before,step_after,position,character,old_expert,new_expert,changed") return {};
      continue;
    }
    rows.push_back(line.split(','));
  }
  return rows;
}

}  // namespace

class TestStability : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("moewb-tests-stability");
    QSettings().clear();
  }

  // ---- the matrix (core) ----

  void rowMeansAreTheStabilityCurve() {
    const std::vector<RoutingTrace> s = four_snapshots();
    for (int layer = 0; layer < 2; ++layer) {
      const TopExpertChangeMatrix m = top_expert_change_matrix(s, layer);
      QCOMPARE(m.rows(), 3);
      QCOMPARE(m.length(), 4);
      QCOMPARE(m.steps, (std::vector<int>{0, 250, 500, 750}));
      for (int r = 0; r < m.rows(); ++r)
        QCOMPARE(m.row_share(r), top_expert_changes(s[static_cast<size_t>(r)], s[static_cast<size_t>(r) + 1])[static_cast<size_t>(layer)]);
    }
    const TopExpertChangeMatrix m = top_expert_change_matrix(s, 1);
    // 'a' at 0: E0 -> E2 between steps 0 and 250, then unchanged
    QVERIFY(m.changed(0, 0));
    QCOMPARE(m.old_expert(0, 0), 0);
    QCOMPARE(m.new_expert(0, 0), 2);
    QVERIFY(!m.changed(1, 0));
    // 'b' at 1: E1 -> E0 between 250 and 500; the last 'a' loses every assignment (-1) there
    QVERIFY(!m.changed(0, 1));
    QVERIFY(m.changed(1, 1));
    QCOMPARE(m.new_expert(1, 1), 0);
    QCOMPARE(m.new_expert(1, 3), -1);
    QCOMPARE(m.row_share(0), 0.25);
    QCOMPARE(m.row_share(1), 0.5);
    QCOMPARE(m.row_share(2), 0.0);
    QCOMPARE(m.column_changes(0), 1);
    QCOMPARE(m.column_changes(2), 0);
    QCOMPARE(top_expert_change_matrix(s, 0).column_changes(0), 1);  // layer 0: E0 -> E1 at 250 -> 500
    QCOMPARE(top_expert_change_matrix(s, 0).column_changes(3), 1);
  }

  void identicalSnapshotsChangeNothing() {
    const RoutingTrace a = four_snapshots()[2];
    RoutingTrace b = a;
    b.step = 1000;
    const TopExpertChangeMatrix m = top_expert_change_matrix({a, b, a}, 1);
    QCOMPARE(m.rows(), 2);
    for (int r = 0; r < m.rows(); ++r)
      for (int t = 0; t < m.length(); ++t) QVERIFY(!m.changed(r, t));
    for (int t = 0; t < m.length(); ++t) QCOMPARE(m.column_changes(t), 0);
    QCOMPARE(m.old_expert(0, 3), -1);  // dropped in both: no change
  }

  void differentTextsOrModelsAreNotCompared() {
    std::vector<RoutingTrace> s = four_snapshots();
    s[2].text = U"ab b";
    QVERIFY(top_expert_change_matrix(s, 0).empty());
    QCOMPARE(top_expert_change_matrix(s, 0).rows(), 0);
    std::vector<RoutingTrace> layers = four_snapshots();
    layers[1].layers.pop_back();
    QVERIFY(top_expert_change_matrix(layers, 0).empty());
    std::vector<RoutingTrace> experts = four_snapshots();
    experts[3] = trace_of(750, U"ab a", {{1, 1, 1, 2}, {2, 0, 2, 3}}, 4);
    QVERIFY(top_expert_change_matrix(experts, 0).empty());
    QVERIFY(top_expert_change_matrix({four_snapshots()[0]}, 0).empty());  // one snapshot: nothing to compare
    QVERIFY(top_expert_change_matrix(four_snapshots(), 2).empty());      // no such layer
    QVERIFY(top_expert_change_matrix(four_snapshots(), -1).empty());
  }

  // ---- the figure (render) ----

  void cellUnderAPointIsAPlainFunction() {
    StabilityGeometry g;
    g.cell_width = 10, g.row_height = 12, g.left = 50, g.top = 4, g.grid_height = 24, g.strip = 10, g.summary = 14;
    g.rows = 5, g.columns = 30;
    QCOMPARE(g.cellAt(QPointF(55, 5)), (std::optional<StabilityCell>(StabilityCell{0, 0})));
    QCOMPARE(g.cellAt(QPointF(75, 17)), (std::optional<StabilityCell>(StabilityCell{1, 2})));
    QVERIFY(!g.cellAt(QPointF(40, 5)));             // row labels
    QVERIFY(!g.cellAt(QPointF(55, 30)));            // the character strip
    QCOMPARE(g.cellAt(QPointF(55, 40)), (std::optional<StabilityCell>(StabilityCell{-1, 0})));  // summary band
    QVERIFY(!g.cellAt(QPointF(50 + 30 * 10 + 1, 5)));  // past the last character
    g.scroll_y = 24, g.scroll_x = 100;  // rows 2.. and characters 10.. at the top left
    QCOMPARE(g.cellAt(QPointF(55, 5)), (std::optional<StabilityCell>(StabilityCell{2, 10})));
    QCOMPARE(g.visibleRows(), (std::pair<int, int>{2, 4}));
    QCOMPARE(g.cellRect(2, 10).topLeft(), QPointF(50, 4));
  }

  void changedCellsTakeTheNewExpertsColour() {
    const TopExpertChangeMatrix m = top_expert_change_matrix(four_snapshots(), 1);
    QCOMPARE(stability_cell_color(m, 0, 0), expert_color(2));
    QCOMPARE(stability_cell_color(m, 1, 1), expert_color(0));
    const QColor unchanged = stability_cell_color(m, 0, 1);
    QCOMPARE(stability_cell_color(m, 2, 0), unchanged);
    QVERIFY(unchanged.lightnessF() > 0.85);  // pale
    QVERIFY(unchanged.hsvSaturationF() < 0.05);  // neutral
    QVERIFY(stability_cell_color(m, 1, 3) != unchanged);  // dropped every assignment: a change too
    const QString tip = stability_cell_text(m, 0, 0, false);
    QVERIFY2(tip.contains("steps 0 → 250") && tip.contains("E0 → E2") && tip.contains("[a]b·a"), qPrintable(tip));
    QVERIFY(stability_cell_text(m, -1, 1, false).contains("changed 1 of 3 times"));
    QCOMPARE(stability_row_label(m, 1, true), QString("250 → 500 · 50 %"));
  }

  void exportsWriteEveryFormatAndTheCsvReadsBack() {
    const TopExpertChangeMatrix m = top_expert_change_matrix(four_snapshots(), 1);
    const StabilityFigure figure(m, StabilityView{});
    QCOMPARE(figure.name(), QString("routing_stability_L1"));
    for (const char* format : {"png", "svg", "pdf"}) {
      const QString path = tmp_.filePath(QString("stability.%1").arg(format));
      ExportOptions o;
      o.format = format_of(format);
      o.size = {17, 0}, o.centimetres = true, o.dpi = 200, o.style = "paper";
      export_figure(path, figure, o);
      QVERIFY(QFileInfo(path).size() > 500);
      if (QString(format) == "png") {
        const QImage image(path);
        QCOMPARE(image.size(), png_pixel_size(export_size(figure, o), 200));
        QVERIFY(image.height() > 100);
      }
      if (QString(format) == "svg") QVERIFY(QSvgRenderer(path).isValid());
    }
    const QString csv_path = tmp_.filePath("stability.csv");
    export_figure_data(csv_path, figure.csv());
    const std::vector<QStringList> rows = csv_rows(QString::fromStdString(read_file(csv_path.toStdString())));
    QCOMPARE(rows.size(), static_cast<size_t>(m.rows() * m.length()));
    for (const QStringList& f : rows) {
      QCOMPARE(f.size(), 7);
      const int r = static_cast<int>(std::find(m.steps.begin(), m.steps.end(), f[0].toInt()) - m.steps.begin());
      const int t = f[2].toInt();
      QCOMPARE(f[1].toInt(), m.step_after(r));
      QCOMPARE(f[3], visible_char(m.text[static_cast<size_t>(t)]));
      QCOMPARE(f[4].toInt(), m.old_expert(r, t));
      QCOMPARE(f[5].toInt(), m.new_expert(r, t));
      QCOMPARE(f[6].toInt(), m.changed(r, t) ? 1 : 0);
    }
    QVERIFY(QJsonDocument::fromJson(figure.json().toUtf8()).isObject());
  }

  // ---- the Stability page of the Routing tab ----

  // Snapshots as a run folder holds them, opened in the window: the page shows the last layer's matrix, its
  // cells say what changed, a layer change recomputes, the keyboard moves the current cell, exports match.
  void pageShowsTheRunsSnapshots() {
    const QString corpus = tmp_.filePath("corpus.txt");
    atomic_write(corpus.toStdString(), synthetic_corpus(4000));
    const QString run = tmp_.filePath("runs/stable");
    QVERIFY(QDir().mkpath(run + "/routing"));
    Config c;
    c.ffn = Ffn::moe, c.n_layer = 2, c.n_experts = 3, c.top_k = 2;
    atomic_write((run + "/config.json").toStdString(), to_json(c));
    std::string metrics;
    for (const std::string& column : metrics_columns(c)) metrics += (metrics.empty() ? "" : ",") + column;
    for (int step : {0, 250, 500, 750}) {
      metrics += "\n" + std::to_string(step);
      for (size_t i = 1; i < metrics_columns(c).size(); ++i) metrics += ",1";
    }
    atomic_write((run + "/metrics.csv").toStdString(), metrics + "\n");
    for (const RoutingTrace& t : four_snapshots())
      atomic_write(QString("%1/routing/step_%2.json").arg(run).arg(t.step, 6, 10, QChar('0')).toStdString(), t.to_json());

    MainWindow w(corpus);
    w.setRunsDirectory(tmp_.filePath("runs"));
    w.setWindowState(Qt::WindowNoState);
    w.resize(1280, 800);
    w.show();
    QSignalSpy opened(&w, &MainWindow::runOpened);
    QVERIFY(w.openRun(run));
    QTRY_COMPARE(opened.count(), 1);
    QVERIFY(opened.at(0).at(1).toBool());
    RoutingPanel* panel = w.findChild<RoutingPanel*>();
    QVERIFY(panel);
    StabilityPage* page = panel->stabilityPage();
    StabilityHeatmap* map = page->heatmap();
    QCOMPARE(page->layer(), 1);  // the last layer by default
    QCOMPARE(map->matrix().rows(), 3);
    QVERIFY(map->matrix().changed(0, 0));
    QCOMPARE(map->matrix().new_expert(0, 0), 2);
    QCOMPARE(map->matrix().column_changes(1), 1);
    // the curve above it has the same numbers
    const QList<QPointF> curve = panel->stabilityChart()->points("layer 1");
    QCOMPARE(curve.size(), 3);
    for (int r = 0; r < 3; ++r) QCOMPARE(curve[r].y(), map->matrix().row_share(r));
    const std::unique_ptr<Figure> shown = map->exportFigure();
    QVERIFY(shown->name() == "routing_stability_L1");
    auto* figure = dynamic_cast<StabilityFigure*>(shown.get());
    QVERIFY(figure);
    // the run (unnamed, no start time: its routing) and the snapshots compared
    QVERIFY2(figure->view().subtitle.startsWith("top-2 · N 3 · "), qPrintable(figure->view().subtitle));
    QVERIFY2(figure->view().subtitle.contains("4 snapshots (steps"), qPrintable(figure->view().subtitle));
    // the CSV of the shown layer, written and read back
    const QString csv_path = tmp_.filePath("shown.csv");
    export_figure_data(csv_path, shown->csv());
    const std::vector<QStringList> rows = csv_rows(QString::fromStdString(read_file(csv_path.toStdString())));
    QCOMPARE(rows.size(), size_t{12});
    QCOMPARE(rows[0], (QStringList{"0", "250", "0", "a", "0", "2", "1"}));
    QCOMPARE(rows[4 + 3], (QStringList{"250", "500", "3", "a", "0", "-1", "1"}));

    // another layer recomputes
    page->setLayer(0);
    QCOMPARE(map->matrix().layer, 0);
    QVERIFY(!map->matrix().changed(0, 0));
    QVERIFY(map->matrix().changed(1, 0));
    QCOMPARE(map->exportFigure()->name(), QString("routing_stability_L0"));

    // the page is on screen; the keyboard moves the current cell and the status line describes it
    for (QWidget* child = page; child; child = child->parentWidget()) {  // each enclosing tab shows it
      QWidget* stack = child->parentWidget();
      if (auto* tabs = qobject_cast<QTabWidget*>(stack ? stack->parentWidget() : nullptr)) tabs->setCurrentWidget(child);
    }
    QTRY_VERIFY(map->isVisible());
    map->setFocus();
    QTest::keyClick(map, Qt::Key_Right);  // nothing current yet: the first cell
    QCOMPARE(map->currentRow(), 0);
    QCOMPARE(map->currentColumn(), 0);
    QTest::keyClick(map, Qt::Key_Down);
    QTest::keyClick(map, Qt::Key_Right);
    QCOMPARE(map->currentRow(), 1);
    QCOMPARE(map->currentColumn(), 1);
    QVERIFY2(page->statusText().contains("steps 250 → 500"), qPrintable(page->statusText()));
    QTest::keyClick(map, Qt::Key_End);
    QCOMPARE(map->currentColumn(), 3);
    QTest::keyClick(map, Qt::Key_End, Qt::ControlModifier);  // the summary band
    QCOMPARE(map->currentRow(), -1);
    QVERIFY2(page->statusText().contains("changed 1 of 3 times"), qPrintable(page->statusText()));
    QTest::keyClick(map, Qt::Key_Up);
    QCOMPARE(map->currentRow(), 2);
    // a new snapshot (training goes on) adds a row and keeps the current cell
    panel->addSnapshot(trace_of(1000, U"ab a", {{1, 1, 1, 2}, {2, 0, 2, 0}}));
    QCOMPARE(map->matrix().rows(), 4);
    QCOMPARE(map->currentRow(), 2);
    QCOMPARE(map->currentColumn(), 3);

    // hovering a cell says what changed there (one real mouse move; the mapping itself is tested above)
    const QRectF cell = map->geometry().cellRect(1, 0);
    QTest::mouseMove(map->viewport(), cell.center().toPoint());
    QTRY_VERIFY2(page->statusText().contains("E0 → E1"), qPrintable(page->statusText()));

    // the export menu opens over it like over every other figure
    QContextMenuEvent event(QContextMenuEvent::Mouse, map->viewport()->rect().center(),
                            map->viewport()->mapToGlobal(map->viewport()->rect().center()));
    QApplication::sendEvent(map->viewport(), &event);
    QTRY_VERIFY(qobject_cast<QMenu*>(QApplication::activePopupWidget()));
    auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
    QCOMPARE(menu->actions().value(0)->text(), QString("Export figure…"));
    QCOMPARE(menu->actions().value(1)->text(), QString("Export data as CSV…"));
    menu->close();
  }

  // Many snapshots of a 256-character text: rows scroll vertically, characters horizontally, and moving the
  // current cell keeps it in view.
  void longTextsAndManySnapshotsScroll() {
    std::u32string text;
    for (int i = 0; i < 256; ++i) text += static_cast<char32_t>(U'a' + i % 26);
    std::vector<RoutingTrace> s;
    for (int i = 0; i < 30; ++i) {
      std::vector<int> tops(256);
      for (int t = 0; t < 256; ++t) tops[static_cast<size_t>(t)] = (t * 7 + i * (t % 3)) % 4;
      s.push_back(trace_of(i * 250, text, {tops}, 4));
    }
    StabilityHeatmap map;
    map.resize(700, 320);
    map.show();
    QVERIFY(QTest::qWaitForWindowExposed(&map));
    map.setMatrix(top_expert_change_matrix(s, 0));
    QCOMPARE(map.matrix().rows(), 29);
    QVERIFY(map.verticalScrollBar()->maximum() > 0);
    QVERIFY(map.horizontalScrollBar()->maximum() > 0);
    map.setFocus();
    QTest::keyClick(&map, Qt::Key_Right);
    QTest::keyClick(&map, Qt::Key_End);
    QTest::keyClick(&map, Qt::Key_PageDown);
    QTest::keyClick(&map, Qt::Key_PageDown);
    const StabilityGeometry g = map.geometry();
    const QRectF current = g.cellRect(map.currentRow(), map.currentColumn());
    QCOMPARE(map.currentColumn(), 255);
    QVERIFY(map.currentRow() > 0);
    QVERIFY2(current.top() >= g.top && current.bottom() <= g.gridBottom() + 0.5,
             qPrintable(QString("row %1 at y %2..%3, grid %4..%5").arg(map.currentRow()).arg(current.top()).arg(current.bottom()).arg(g.top).arg(g.gridBottom())));
    QVERIFY(current.right() <= map.viewport()->width() + 0.5);
    QTest::keyClick(&map, Qt::Key_Down);  // from the last row to the summary band
    QCOMPARE(map.currentRow(), -1);
    QTest::keyClick(&map, Qt::Key_Home, Qt::ControlModifier);
    QCOMPARE(map.currentRow(), 0);
    QCOMPARE(map.verticalScrollBar()->value(), 0);
    // the wheel scrolls rows; Shift + wheel scrolls characters
    auto wheel = [&map](Qt::KeyboardModifiers modifiers) {
      QWheelEvent event(QPointF(100, 20), map.viewport()->mapToGlobal(QPointF(100, 20)), QPoint(), QPoint(0, -120),
                        Qt::NoButton, modifiers, Qt::NoScrollPhase, false);
      QApplication::sendEvent(map.viewport(), &event);
    };
    wheel(Qt::NoModifier);
    QVERIFY(map.verticalScrollBar()->value() > 0);
    const int x = map.horizontalScrollBar()->value();
    QTest::keyClick(&map, Qt::Key_Home);
    QCOMPARE(map.horizontalScrollBar()->value(), 0);
    wheel(Qt::ShiftModifier);
    QVERIFY(map.horizontalScrollBar()->value() > 0);
    QVERIFY(x > 0);
  }
};

QTEST_MAIN(TestStability)
#include "tst_stability.moc"
