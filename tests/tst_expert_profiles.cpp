// Expert profiles: per layer and expert, the most confidently routed characters with the 20-character windows of
// text ending at them. The core keeps exactly what a direct scan over a hand-built trace finds, the same when the
// text is counted in slices of any size, windows are whole and ordered by confidence, and memory is a fixed heap;
// the Experts tab shows the core's result for the layer and expert chosen with the keyboard; the CSV export parses
// back to the same values, and the figure exports as PNG, SVG and PDF.
#include <QtTest>

#include <QComboBox>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QListWidget>
#include <QTabWidget>
#include <QTemporaryDir>

#include <algorithm>
#include <random>

#include "ui/common/meta_types.h"
#include "ui/render/expert_profile_figure.h"
#include "ui/render/figure_export.h"
#include "ui/render/routing_text.h"
#include "ui/routing/expert_profile_view.h"
#include "ui/routing/routing_panel.h"

using namespace moewb;

namespace {

constexpr int kTraceLayers = 2, kTraceExperts = 3, kTraceSlots = 2;

// A top-2 trace over random text (letters, spaces, newlines) with random router probabilities; probabilities
// are quantised to 1/64 so that ties occur and the tie order (earlier first) is exercised.
RoutingTrace random_trace(int length, unsigned seed) {
  std::mt19937 rng(seed);
  static const std::u32string alphabet = U"abcde fgh\n";
  RoutingTrace t;
  t.routing = RoutingMode::topk, t.n_experts = kTraceExperts;
  for (int i = 0; i < length; ++i) t.text += alphabet[rng() % alphabet.size()];
  for (int l = 0; l < kTraceLayers; ++l) {
    LayerTrace lt;
    lt.n_experts = kTraceExperts, lt.slots = kTraceSlots;
    for (int i = 0; i < length; ++i) {
      std::vector<float> p(kTraceExperts);
      float sum = 0;
      for (float& v : p) sum += v = 1 + static_cast<float>(rng() % 64);
      for (float& v : p) v = std::round(v / sum * 64) / 64;
      std::vector<int> order{0, 1, 2};
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
      for (float v : p) lt.probs.push_back(v);
      for (int s = 0; s < kTraceSlots; ++s) {
        lt.chosen.push_back(order[s]);
        lt.weights.push_back(p[order[s]]);
        lt.dropped.push_back(0);
      }
    }
    t.layers.push_back(lt);
  }
  return t;
}

// Characters [begin, end) of a trace, as count_routing's slices are.
RoutingTrace slice(const RoutingTrace& t, int begin, int end) {
  RoutingTrace s = t;
  s.text = t.text.substr(static_cast<size_t>(begin), static_cast<size_t>(end - begin));
  for (size_t l = 0; l < t.layers.size(); ++l) {
    const LayerTrace& a = t.layers[l];
    LayerTrace& b = s.layers[l];
    auto cut = [&](const auto& v, int per) {
      return std::decay_t<decltype(v)>(v.begin() + begin * per, v.begin() + end * per);
    };
    b.probs = cut(a.probs, a.n_experts);
    b.chosen = cut(a.chosen, a.slots);
    b.weights = cut(a.weights, a.slots);
    b.dropped = cut(a.dropped, a.slots);
  }
  return s;
}

// The expected profile by brute force: every assignment of the expert, sorted by probability (ties: earlier).
std::vector<RoutedWindow> direct_scan(const RoutingTrace& t, int layer, int expert, int m) {
  std::vector<RoutedWindow> all;
  const LayerTrace& lt = t.layers[static_cast<size_t>(layer)];
  for (int i = 0; i < t.length(); ++i)
    for (int s = 0; s < lt.slots; ++s)
      if (lt.chosen_at(i, s) == expert) {
        const int begin = std::max(0, i + 1 - RoutingCounts::kWindowLength);
        all.push_back({lt.prob(i, expert), i, t.text.substr(static_cast<size_t>(begin), static_cast<size_t>(i + 1 - begin))});
      }
  std::stable_sort(all.begin(), all.end(),
                   [](const RoutedWindow& a, const RoutedWindow& b) { return a.probability > b.probability; });
  if (all.size() > static_cast<size_t>(m)) all.resize(static_cast<size_t>(m));
  return all;
}

QString visible(const std::u32string& s) {
  QString out;
  for (char32_t c : s) out += visible_char(c);
  return out;
}

// A CSV line split on commas, with RFC 4180 quoting.
QStringList csv_fields(const QString& line) {
  QStringList out;
  QString cell;
  bool quoted = false;
  for (int i = 0; i < line.size(); ++i) {
    const QChar c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cell += '"', ++i;
      else if (c == '"') quoted = false;
      else cell += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out << cell;
      cell.clear();
    } else {
      cell += c;
    }
  }
  out << cell;
  return out;
}

}  // namespace

class TestExpertProfiles : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { register_meta_types(); }

  void windowsEqualADirectScan_data() {
    QTest::addColumn<int>("perExpert");
    QTest::newRow("M=20 (default)") << 20;
    QTest::newRow("M=5") << 5;
    QTest::newRow("M=1") << 1;
    QTest::newRow("M larger than the assignments") << 5000;
  }
  void windowsEqualADirectScan() {
    QFETCH(int, perExpert);
    const RoutingTrace t = random_trace(600, 3);
    RoutingCounts counts(perExpert);
    counts.add(t);
    for (int l = 0; l < kTraceLayers; ++l)
      for (int e = 0; e < kTraceExperts; ++e) {
        const auto expected = direct_scan(t, l, e, perExpert);
        QVERIFY(!expected.empty());
        QCOMPARE(counts.top_windows(l, e), expected);
      }
    QVERIFY(counts.top_windows(kTraceLayers, 0).empty());
    QVERIFY(counts.top_windows(0, kTraceExperts).empty());
  }

  // Slices of any size (shorter than a window too), with or without explicit offsets, keep what one trace keeps.
  void slicesMergeLikeOneTrace_data() {
    QTest::addColumn<QList<int>>("cuts");
    QTest::addColumn<bool>("offsets");
    QTest::newRow("halves") << QList<int>{300} << false;
    QTest::newRow("count_routing-like, explicit offsets") << QList<int>{128, 256, 384, 512} << true;
    QTest::newRow("slices shorter than a window") << QList<int>{1, 2, 9, 10, 25, 26, 27, 40, 59, 300, 301} << false;
    QTest::newRow("one character at a time") << [] {
      QList<int> all;
      for (int i = 1; i < 600; ++i) all << i;
      return all;
    }() << true;
  }
  void slicesMergeLikeOneTrace() {
    QFETCH(QList<int>, cuts);
    QFETCH(bool, offsets);
    const RoutingTrace t = random_trace(600, 5);
    RoutingCounts whole, sliced;
    whole.add(t);
    QList<int> bounds = QList<int>{0} + cuts + QList<int>{t.length()};
    for (int i = 0; i + 1 < bounds.size(); ++i)
      sliced.add(slice(t, bounds[i], bounds[i + 1]), offsets ? bounds[i] : -1);
    QCOMPARE(sliced.characters(), whole.characters());
    for (int l = 0; l < kTraceLayers; ++l)
      for (int e = 0; e < kTraceExperts; ++e) {
        QCOMPARE(sliced.top_windows(l, e), whole.top_windows(l, e));
        QCOMPARE(sliced.expert_assignments(l, e), whole.expert_assignments(l, e));
      }
  }

  // A slice that does not continue the previous one gets no borrowed context: its first windows start with it.
  void aGapStartsFreshWindows() {
    const RoutingTrace t = random_trace(100, 9);
    RoutingCounts counts(1000);
    counts.add(slice(t, 0, 40), 0);
    counts.add(slice(t, 50, 100), 50);  // 40..49 never counted
    for (const RoutedWindow& w : counts.top_windows(0, 0)) {
      QVERIFY(w.position < 40 || w.position >= 50);
      const int64_t start = w.position < 40 ? 0 : 50;
      QCOMPARE(static_cast<int64_t>(w.window.size()), std::min<int64_t>(20, w.position - start + 1));
    }
  }

  void windowsAreWholeAndOrderedByConfidence() {
    const RoutingTrace t = random_trace(800, 7);
    RoutingCounts counts;
    counts.add(t);
    QCOMPARE(counts.windows_per_expert(), 20);
    for (int l = 0; l < kTraceLayers; ++l)
      for (int e = 0; e < kTraceExperts; ++e) {
        const auto windows = counts.top_windows(l, e);
        QCOMPARE(windows.size(), size_t{20});  // bounded: M per layer x expert, whatever the text's length
        for (size_t i = 0; i < windows.size(); ++i) {
          const RoutedWindow& w = windows[i];
          const auto pos = static_cast<size_t>(w.position);
          // 20 characters ending at the routed one, fewer only at the start of the text
          QCOMPARE(w.window.size(), std::min<size_t>(20, pos + 1));
          QCOMPARE(w.window, t.text.substr(pos + 1 - w.window.size(), w.window.size()));
          QCOMPARE(w.character(), t.text[pos]);
          QCOMPARE(w.offset_in_window(), static_cast<int>(w.window.size()) - 1);
          QCOMPARE(w.probability, t.layers[static_cast<size_t>(l)].prob(static_cast<int>(pos), e));
          if (i > 0) {
            const RoutedWindow& prev = windows[i - 1];
            QVERIFY(prev.probability > w.probability ||
                    (prev.probability == w.probability && prev.position < w.position));
          }
        }
      }
    // the shares add up: every slot of every character is one assignment
    for (int l = 0; l < kTraceLayers; ++l) QCOMPARE(counts.layer_assignments(l), int64_t{800 * kTraceSlots});
    RoutingCounts none(0);
    none.add(t);
    QVERIFY(none.top_windows(0, 0).empty());
    QCOMPARE(none.expert_assignments(0, 0), counts.expert_assignments(0, 0));
  }

  // The Experts tab of the Routing panel shows the core's profile of the layer and expert chosen by keyboard.
  void panelShowsTheCoreProfileOfTheChosenExpert() {
    RoutingPanel panel;
    Config c;
    c.ffn = Ffn::moe, c.n_layer = kTraceLayers, c.n_experts = kTraceExperts;
    panel.reset(c);
    RoutingTrace t = random_trace(500, 11);
    t.step = 250;
    panel.setSnapshots({t});
    panel.resize(1200, 700);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    auto* tabs = panel.findChild<QTabWidget*>();
    QVERIFY(tabs);
    int experts_tab = -1;
    for (int i = 0; i < tabs->count(); ++i)
      if (tabs->tabText(i) == "Experts") experts_tab = i;
    QVERIFY(experts_tab >= 0);
    tabs->setCurrentIndex(experts_tab);
    ExpertProfileView* view = panel.expertProfiles();
    QVERIFY(view->isVisible());
    RoutingCounts core;
    core.add(t);
    // opens on the last layer's first expert
    QCOMPARE(view->layer(), kTraceLayers - 1);
    QCOMPARE(view->expert(), 0);
    QCOMPARE(view->figure().profile().windows, core.top_windows(kTraceLayers - 1, 0));
    // ↓ twice: E2; PgUp: layer 0, same expert
    view->expertList()->setFocus();
    QTest::keyClick(view->expertList(), Qt::Key_Down);
    QTest::keyClick(view->expertList(), Qt::Key_Down);
    QTest::keyClick(view->expertList(), Qt::Key_PageUp);
    QCOMPARE(view->layer(), 0);
    QCOMPARE(view->expert(), 2);
    const ExpertProfile& shown = view->figure().profile();
    QCOMPARE(shown.windows, core.top_windows(0, 2));
    QCOMPARE(shown.top_characters, core.top_characters(0, 2, 12));
    QCOMPARE(shown.assignments, core.expert_assignments(0, 2));
    QCOMPARE(shown.layer_assignments, int64_t{500 * kTraceSlots});
    QVERIFY(view->expertList()->item(2)->text().startsWith("E2"));
    QVERIFY(view->figure().subtitle().contains("step 250"));
    // the combo chooses too
    view->layerCombo()->setCurrentIndex(1);
    QCOMPARE(view->figure().profile().windows, core.top_windows(1, 2));
    // load over training from the run's history
    QVector<LayerHistory> history(kTraceLayers);
    for (auto& h : history) h.load.resize(kTraceExperts);
    history[1].load[2] = {{250, 0.2}, {500, 0.3}};
    panel.setLoadHistory(history);
    QCOMPARE(view->figure().profile().load, (QList<QPointF>{{250, 0.2}, {500, 0.3}}));
    view->canvas()->repaint();  // paints without complaint at the panel's size
    panel.reset(c);
    QVERIFY(view->figure().profile().load.isEmpty());
  }

  void csvExportParsesBackToTheSameValues() {
    const RoutingTrace t = random_trace(400, 13);
    RoutingCounts counts;
    counts.add(t);
    ExpertProfile profile = ExpertProfile::of(counts, 1, 0);
    profile.load = {{250, 0.25}, {500, 0.375}};
    const ExpertProfileFigure figure(profile, "run test");
    QTemporaryDir temporary;
    // MOEWB_FIGURES_DIR=DIR keeps the files, to look at them
    const QDir dir(qEnvironmentVariableIsSet("MOEWB_FIGURES_DIR") ? qEnvironmentVariable("MOEWB_FIGURES_DIR")
                                                                  : temporary.path());
    const QString path = dir.filePath(figure.name() + ".csv");
    export_figure_data(path, figure.csv());
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(file.readAll()).split('\n', Qt::SkipEmptyParts);
    QVERIFY(lines[0].startsWith("# layer 1, expert E0"));
    QCOMPARE(lines[1], QString("kind,layer,expert,rank,window,character,probability,share,position,step"));
    int windows = 0, characters = 0, loads = 0;
    for (int i = 2; i < lines.size(); ++i) {
      const QStringList f = csv_fields(lines[i]);
      QCOMPARE(f.size(), 10);
      QCOMPARE(f[1], QString("1"));
      QCOMPARE(f[2], QString("0"));
      const int rank = f[3].toInt();
      if (f[0] == "window") {
        QCOMPARE(rank, ++windows);
        const RoutedWindow& w = profile.windows[static_cast<size_t>(rank - 1)];
        QCOMPARE(f[4], visible(w.window));
        QCOMPARE(f[5], visible_char(w.character()));
        QCOMPARE(f[6].toFloat(), w.probability);
        QCOMPARE(f[8].toLongLong(), w.position);
      } else if (f[0] == "character") {
        QCOMPARE(rank, ++characters);
        const auto& [c, share] = profile.top_characters[static_cast<size_t>(rank - 1)];
        QCOMPARE(f[5], visible_char(c));
        QCOMPARE(f[7].toDouble(), share);
      } else {
        QCOMPARE(f[0], QString("load"));
        QCOMPARE(rank, ++loads);
        QCOMPARE(QPointF(f[9].toDouble(), f[7].toDouble()), profile.load[rank - 1]);
      }
    }
    QCOMPARE(windows, 20);
    QCOMPARE(characters, static_cast<int>(profile.top_characters.size()));
    QCOMPARE(loads, 2);
    // the JSON keeps the raw windows
    const QJsonObject json = QJsonDocument::fromJson(figure.json().toUtf8()).object();
    QCOMPARE(json["windows"].toArray().size(), 20);
    QCOMPARE(json["windows"].toArray()[0].toObject()["window"].toString(),
             QString::fromStdU32String(profile.windows[0].window));
    // and the figure itself in every format
    for (const QString suffix : {"png", "svg", "pdf"}) {
      ExportOptions o;
      o.format = format_of(suffix);
      o.style = "paper";
      o.size = figure.naturalSize();
      const QString out = dir.filePath("profile." + suffix);
      export_figure(out, figure, o);
      QVERIFY2(QFileInfo(out).size() > 1000, qPrintable(out));
    }
    QImage png(dir.filePath("profile.png"));
    QCOMPARE(png.size(), png_pixel_size(figure.naturalSize(), ExportOptions{}.dpi));
  }
};

QTEST_MAIN(TestExpertProfiles)
#include "tst_expert_profiles.moc"
