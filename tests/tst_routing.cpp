// Routing inspection: the point -> cell mapping at several zoom/scroll positions, tooltip contents for a known
// trace, a real mouse hover, affinity values, snapshot scrubbing, the dense-model state, and a trained top-2
// model that measurably specialises experts on a two-alphabet corpus.
#include <QtTest>

#include <QSlider>
#include <QStackedWidget>
#include <QToolTip>

#include <random>

#include "core/train/training.h"
#include "ui/render/heatmap_geometry.h"
#include "ui/render/routing_text.h"
#include "ui/routing/affinity_view.h"
#include "ui/routing/routing_heatmap.h"
#include "ui/routing/routing_panel.h"

using namespace moewb;

namespace {

// "abab" over 2 layers and 3 experts, top-2; layer 1 drops the second choice of position 1.
RoutingTrace known_trace() {
  RoutingTrace t;
  t.routing = RoutingMode::topk, t.n_experts = 3, t.text = U"ab a", t.step = 7;
  LayerTrace l0;
  l0.n_experts = 3, l0.slots = 2;
  l0.probs = {0.6f, 0.3f, 0.1f, 0.1f, 0.2f, 0.7f, 0.2f, 0.5f, 0.3f, 0.5f, 0.4f, 0.1f};
  l0.chosen = {0, 1, 2, 1, 1, 2, 0, 1};
  l0.weights = {0.67f, 0.33f, 0.78f, 0.22f, 0.62f, 0.38f, 0.56f, 0.44f};
  l0.dropped = {0, 0, 0, 0, 0, 0, 0, 0};
  LayerTrace l1 = l0;
  l1.weights[3] = 0.0f;
  l1.dropped[3] = 1;
  t.layers = {l0, l1};
  return t;
}

RoutingTrace trace_at_step(int step) {
  RoutingTrace t = known_trace();
  t.step = step;
  return t;
}

// Lines of lowercase words or lines of digit groups: two alphabets that never share a line.
std::string two_alphabet_corpus(size_t characters) {
  static const char* words[] = {"apple", "river", "stone", "cloud", "bread", "light", "tiger", "music"};
  std::mt19937 rng(11);
  std::string text;
  while (text.size() < characters) {
    const bool digits = rng() % 2;
    for (int w = 0; w < 6; ++w) {
      if (digits) {
        for (int d = 0, n = 3 + static_cast<int>(rng() % 3); d < n; ++d) text += static_cast<char>('0' + rng() % 10);
      } else {
        text += words[rng() % 8];
      }
      text += w < 5 ? " " : "\n";
    }
  }
  return text.substr(0, characters);
}

// Total-variation distance between the expert distributions of letters and of digits, per layer; 0 = the two
// alphabets use experts alike, 1 = disjoint experts. Aggregating over all characters of an alphabet removes
// per-character preferences a random router already has; what remains is alphabet-level specialisation.
double alphabet_separation(const RoutingTrace& trace, int layer) {
  const AffinityMatrix a = affinity(trace, layer);
  std::vector<double> letters(static_cast<size_t>(trace.n_experts)), digits(letters.size());
  for (size_t i = 0; i < a.characters.size(); ++i) {
    const char32_t c = a.characters[i];
    auto* target = (c >= U'a' && c <= U'z') ? &letters : (c >= U'0' && c <= U'9') ? &digits : nullptr;
    if (!target) continue;
    for (size_t e = 0; e < letters.size(); ++e) (*target)[e] += a.counts[i] * a.share[i][e];
  }
  double nl = 0, nd = 0, tv = 0;
  for (size_t e = 0; e < letters.size(); ++e) nl += letters[e], nd += digits[e];
  for (size_t e = 0; e < letters.size(); ++e) tv += std::abs(letters[e] / nl - digits[e] / nd);
  return tv / 2;
}

}  // namespace

class TestRouting : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { register_meta_types(); }

  void cellUnderPoint_data() {
    QTest::addColumn<double>("cellWidth");
    QTest::addColumn<double>("scroll");
    QTest::addColumn<QPointF>("point");
    QTest::addColumn<int>("row");
    QTest::addColumn<int>("column");
    // left = 64, top = 4, row height 22, 4 rows, 100 columns; -1 = no cell
    QTest::newRow("first cell") << 14.0 << 0.0 << QPointF(64, 4) << 0 << 0;
    QTest::newRow("second row, third column") << 14.0 << 0.0 << QPointF(64 + 2 * 14 + 1, 4 + 22 + 1) << 1 << 2;
    QTest::newRow("last pixel of a cell") << 14.0 << 0.0 << QPointF(64 + 13.9, 4 + 21.9) << 0 << 0;
    QTest::newRow("zoomed in") << 40.0 << 0.0 << QPointF(64 + 85, 4 + 3 * 22 + 5) << 3 << 2;
    QTest::newRow("zoomed out") << 3.0 << 0.0 << QPointF(64 + 299, 10) << 0 << 99;
    QTest::newRow("scrolled") << 14.0 << 140.0 << QPointF(64 + 1, 10) << 0 << 10;
    QTest::newRow("scrolled and zoomed") << 20.0 << 1000.0 << QPointF(64 + 30, 30) << 1 << 51;
    QTest::newRow("row labels") << 14.0 << 0.0 << QPointF(30, 10) << -1 << -1;
    QTest::newRow("below the grid") << 14.0 << 0.0 << QPointF(100, 4 + 4 * 22 + 1) << -1 << -1;
    QTest::newRow("past the last column") << 14.0 << 0.0 << QPointF(64 + 100 * 14 + 2, 10) << -1 << -1;
  }
  void cellUnderPoint() {
    QFETCH(double, cellWidth);
    QFETCH(double, scroll);
    QFETCH(QPointF, point);
    QFETCH(int, row);
    QFETCH(int, column);
    HeatmapGeometry g;
    g.cell_width = cellWidth, g.scroll_x = scroll, g.rows = 4, g.columns = 100;
    const auto cell = g.cellAt(point);
    if (row < 0) {
      QVERIFY(!cell);
      return;
    }
    QVERIFY(cell);
    QCOMPARE(cell->row, row);
    QCOMPARE(cell->column, column);
    QVERIFY(g.cellRect(row, column).contains(point));
  }

  void onlyVisibleColumnsArePainted() {
    HeatmapGeometry g;
    g.cell_width = 10, g.scroll_x = 1000, g.rows = 4, g.columns = 100000;
    const auto [first, last] = g.visibleColumns(64 + 500);
    QCOMPARE(first, 100);
    QVERIFY(last - first <= 52);
  }

  void tooltipContent() {
    const RoutingTrace t = known_trace();
    const QString tip = routing_tooltip(t, 1, 1);
    QVERIFY2(tip.contains("<b>'b'</b> at position 1 · layer 1"), qPrintable(tip));
    QVERIFY(tip.contains("probabilities: E0 0.100, E1 0.200, E2 0.700"));
    QVERIFY(tip.contains("chosen: E2 × 0.780, E1 dropped (capacity)"));
    QVERIFY(tip.contains("capacity dropped"));
    const QString space = routing_tooltip(t, 0, 2);
    QVERIFY(space.contains("<b>'·'</b> at position 2"));
    QVERIFY(!space.contains("dropped"));
    RoutingTrace sig = t;
    sig.routing = RoutingMode::sigmoid;
    sig.layers[0].chosen[1] = -1;  // position 0 used only expert 0
    QVERIFY(routing_tooltip(sig, 0, 0).contains("active experts: 1 of 3"));
    QVERIFY(routing_tooltip(sig, 0, 0).contains("gates σ(z)"));
    QVERIFY(routing_tooltip(t, 5, 0).isEmpty());
  }

  void hoverShowsTheTooltipAndHighlightsTheColumn() {
    RoutingPanel panel;
    Config c;
    c.ffn = Ffn::moe, c.n_layer = 2, c.n_experts = 3;
    panel.reset(c);
    panel.setSnapshots({known_trace()});
    panel.setCompare(true);
    panel.resize(900, 600);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    RoutingHeatmap* map = panel.heatmap();
    const QPoint center = map->geometry().cellRect(1, 1).center().toPoint();
    QTest::mouseMove(map->viewport(), center);
    QTRY_VERIFY(QToolTip::isVisible());
    QVERIFY2(QToolTip::text().contains("at position 1 · layer 1"), qPrintable(QToolTip::text()));
    QVERIFY(QToolTip::text().contains("E1 dropped (capacity)"));
    QCOMPARE(map->hoveredColumn(), 1);
    QCOMPARE(panel.compareHeatmap()->hoveredColumn(), 1);  // the compared view outlines the same character
    // the text below outlines the same character, and the detail panel shows it while nothing is pinned
    auto* reading = panel.findChild<RoutingReadingView*>("reading_view");
    QVERIFY(reading);
    QCOMPARE(reading->hoveredPosition(), 1);
    QCOMPARE(panel.columnDetail()->position(), 1);
    // the tooltip sits beside the highlighted column, not over it
    QWidget* tip = nullptr;
    for (QWidget* w : QApplication::topLevelWidgets())
      if (w->inherits("QTipLabel") && w->isVisible()) tip = w;
    QVERIFY(tip);
    const QRectF cell = map->geometry().cellRect(1, 1);
    const QRect column(map->viewport()->mapToGlobal(QPoint(static_cast<int>(cell.left()), 0)),
                       QSize(static_cast<int>(cell.width()), map->viewport()->height()));
    QVERIFY2(!tip->geometry().intersects(column), qPrintable(QString("tip at x %1, column at x %2")
                                                                 .arg(tip->geometry().left())
                                                                 .arg(column.left())));
  }

  // Stability: the share of characters whose top expert changed between consecutive snapshots, per layer, as
  // a curve over training in the Routing tab.
  void stabilityCountsTopExpertChanges() {
    const RoutingTrace a = trace_at_step(10);
    RoutingTrace b = trace_at_step(20);
    std::swap(b.layers[1].chosen[0], b.layers[1].chosen[1]);  // 'a' at 0: the larger weight moves from E0 to E1
    QCOMPARE(top_expert_changes(a, b), (std::vector<double>{0.0, 0.25}));
    RoutingTrace other = b;
    other.text = U"xyzw";
    QVERIFY(top_expert_changes(a, other).empty());
    RoutingPanel panel;
    Config c;
    c.ffn = Ffn::moe, c.n_layer = 2, c.n_experts = 3;
    panel.reset(c);
    panel.setSnapshots({a, b, trace_at_step(30)});
    const QList<QPointF> layer1 = panel.stabilityChart()->points("layer 1");
    QCOMPARE(layer1, (QList<QPointF>{{20, 0.25}, {30, 0.25}}));  // and back again at step 30
    QCOMPARE(panel.stabilityChart()->points("layer 0"), (QList<QPointF>{{20, 0.0}, {30, 0.0}}));
  }

  void affinityViewShowsShares() {
    AffinityView view;
    view.setAffinity(affinity(known_trace(), 0));
    const AffinityMatrix& m = view.figure().matrix();
    // 'a' (positions 0 and 3): experts 0,1 then 0,1 -> 0.5 / 0.5 / 0; 'b': 2,1 -> 0 / 0.5 / 0.5
    QCOMPARE(m.characters.size(), size_t{3});  // 'a', 'b', ' '
    QCOMPARE(view.figure().experts(), 3);
    const size_t a = m.characters[0] == U'a' ? 0 : 1;
    QCOMPARE(m.share[a][0], 0.5);
    QCOMPARE(m.share[a][2], 0.0);
    // hovering a painted cell names its character and share, from the same layout the painter used
    view.resize(400, 300);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const AffinityLayout l = view.figure().layout(view.canvas()->rect(), screen_style(view.canvas()), view.canvas());
    const QPoint cell(static_cast<int>(l.left + 0.5 * l.cell_w), static_cast<int>(l.top + (a + 0.5) * l.cell_h));
    QCOMPARE(view.toolTipAt(cell), QString("'a' (2 occurrences): 50.0% of its assignments go to E0"));
    QVERIFY(view.toolTipAt(QPoint(1, 1)).isEmpty());
  }

  void scrubbingShowsTheChosenSnapshot() {
    RoutingPanel panel;
    Config c;
    c.ffn = Ffn::moe, c.n_layer = 2, c.n_experts = 3;
    panel.reset(c);
    panel.setSnapshots({trace_at_step(0), trace_at_step(250), trace_at_step(500)});
    QCOMPARE(panel.heatmap()->trace().step, 500);  // opens on the latest
    panel.snapshotSlider()->setValue(1);
    QCOMPARE(panel.heatmap()->trace().step, 250);
    panel.snapshotSlider()->setValue(0);
    QCOMPARE(panel.heatmap()->trace().step, 0);
    panel.setCompare(true);
    QCOMPARE(panel.compareHeatmap()->trace().step, 0);
    QCOMPARE(panel.compareHeatmap()->detailLayer(), 1);  // the second view starts on the last layer's experts
  }

  void denseModelShowsTheNoRoutingState() {
    RoutingPanel panel;
    Config dense;
    panel.reset(dense);
    panel.show();
    auto* stack = panel.findChild<QStackedWidget*>();
    QVERIFY(stack);
    QCOMPARE(stack->currentIndex(), 1);
    QVERIFY(!panel.heatmap()->isVisible());
  }

  void trainedTop2ModelSpecialisesByAlphabet() {
    Config c;
    c.n_layer = 2, c.n_head = 2, c.n_embd = 48, c.block_size = 32, c.batch_size = 16, c.dropout = 0;
    c.ffn = Ffn::moe, c.n_experts = 4, c.top_k = 2, c.routing = RoutingMode::topk;
    c.max_iters = 400, c.lr_decay_iters = 400, c.warmup_iters = 20, c.learning_rate = 3e-3, c.min_lr = 3e-4;
    c.eval_interval = 1000, c.eval_iters = 1, c.log_interval = 100;
    const std::string corpus = two_alphabet_corpus(20000);
    auto trainer = Trainer::create(c, TextDataset::from_text(corpus, "two alphabets"), "", "");
    const std::string probe = corpus.substr(18000, 2000);
    double before = 0;
    for (int l = 0; l < c.n_layer; ++l) before = std::max(before, alphabet_separation(trainer->snapshot().trace(probe), l));
    while (!trainer->done()) trainer->advance();
    const RoutingTrace after_trace = trainer->snapshot().trace(probe);
    double after = 0;
    for (int l = 0; l < c.n_layer; ++l) after = std::max(after, alphabet_separation(after_trace, l));
    qInfo("alphabet separation (max over layers): %.3f at init, %.3f after %d steps", before, after, c.max_iters);
    // With top-2 of 4 experts, disjoint expert pairs per alphabet give 1.0; a router that ignores the alphabet
    // gives ~0. Half-way is a clear, deliberate split.
    QVERIFY2(after > 0.5, qPrintable(QString::number(after)));
    QVERIFY(after > before + 0.2);
  }
};

QTEST_MAIN(TestRouting)
#include "tst_routing.moc"
