// The widget-free figure renderers and their export, data-driven over figure kind x format x DPI: a PNG at
// 200 or 600 DPI scaled down to 96 DPI looks like the 96-DPI export (the layout does not depend on the DPI),
// SVG holds the title, axis titles and tick labels as text, PDF renders with pdftoppm at the figure's size;
// ticks stay between 4 and 8 for figure widths from 6 to 30 cm; tick labels are distinct; a 2,000-character
// routing trace wraps onto an A4 page; one subtitle per figure of a run; axis titles typeset. Links the render
// library only: no widget is involved.
#include <QtTest>

#include <QFontMetricsF>
#include <QPainter>
#include <QProcess>
#include <QXmlStreamReader>

#include <algorithm>
#include <atomic>
#include <thread>
#include <memory>
#include <random>

#include "core/runs/metrics_csv.h"
#include "ui/render/affinity_figure.h"
#include "ui/render/figure_export.h"
#include "ui/render/gui_thread.h"
#include "ui/render/plot_figure.h"
#include "ui/render/routing_figure.h"
#include "ui/render/table_figure.h"
#include "ui/render/training_figures.h"

using namespace moewb;

namespace {

constexpr double kPxPerCm = 96 / 2.54;

TrainingHistory synthetic_history(int experts) {
  TrainingHistory h;
  for (int s = 0; s <= 5000; s += 10) {
    h.train_loss << QPointF(s, 1.4 + 2.8 * std::exp(-s / 700.0) + 0.02 * std::sin(s));
    h.lr << QPointF(s, s < 100 ? 1e-3 * s / 100 : 1e-4 + 0.9e-3 * 0.5 * (1 + std::cos(M_PI * s / 5000)));
    h.tokens_per_sec << QPointF(s, 26000 + 900 * std::sin(s / 300.0));
  }
  LayerHistory l;
  l.load.resize(experts);
  for (int s = 0; s <= 5000; s += 250) {
    h.val_loss << QPointF(s, 1.45 + 2.8 * std::exp(-s / 700.0));
    for (int e = 0; e < experts; ++e) l.load[e] << QPointF(s, (1.0 + 0.5 * std::sin(e + s / 1000.0)) / experts);
    l.entropy << QPointF(s, 0.9 + 0.05 * std::sin(s / 800.0));
    l.max_share << QPointF(s, 0.3);
    l.dropped << QPointF(s, 0.02);
  }
  h.layers = {l};
  return h;
}

// n characters of text routed top-2 over `layers` layers of `experts` experts, every 13th assignment dropped.
RoutingTrace synthetic_trace(int n, int layers, int experts) {
  static const std::u32string words = U"To be, or not to be, that is the question:\nWhether 'tis nobler in the mind ";
  RoutingTrace t;
  t.routing = RoutingMode::topk, t.n_experts = experts, t.step = 4500;
  for (int i = 0; i < n; ++i) t.text += words[static_cast<size_t>(i) % words.size()];
  std::mt19937 rng(5);
  for (int l = 0; l < layers; ++l) {
    LayerTrace layer;
    layer.n_experts = experts, layer.slots = 2;
    for (int i = 0; i < n; ++i) {
      std::vector<float> p(static_cast<size_t>(experts));
      float sum = 0;
      for (auto& v : p) sum += (v = 0.05f + static_cast<float>(rng() % 100) / 100.0f);
      for (auto& v : p) v /= sum;
      layer.probs.insert(layer.probs.end(), p.begin(), p.end());
      const int a = static_cast<int>(rng() % experts), b = (a + 1) % experts;
      const bool drop = (i * 7 + l) % 13 == 0;
      layer.chosen.insert(layer.chosen.end(), {a, b});
      layer.weights.insert(layer.weights.end(), {0.6f, drop ? 0.0f : 0.4f});
      layer.dropped.insert(layer.dropped.end(), {0, static_cast<uint8_t>(drop)});
    }
    t.layers.push_back(layer);
  }
  return t;
}

std::unique_ptr<Figure> make_figure(const QString& kind) {
  TrainingFigureOptions o;
  o.run = "20261124-top2";
  if (kind == "loss") return std::make_unique<PlotFigure>(loss_plot(synthetic_history(4), o));
  if (kind == "loss-log") {
    o.log_loss = true;
    return std::make_unique<PlotFigure>(loss_plot(synthetic_history(4), o));
  }
  if (kind == "lr") return std::make_unique<PlotFigure>(lr_plot(synthetic_history(4), o));
  if (kind == "throughput") return std::make_unique<PlotFigure>(throughput_plot(synthetic_history(4), o));
  if (kind == "expert-load") return std::make_unique<PlotFigure>(expert_load_plot(synthetic_history(16), 0, 16, o));
  if (kind == "routing") return std::make_unique<RoutingFigure>(synthetic_trace(600, 6, 8), RoutingView{-1, -1, -1, "Routing of the probe text", "run r · step 4500"});
  if (kind == "routing-detail")
    return std::make_unique<RoutingFigure>(synthetic_trace(300, 6, 8), RoutingView{2, -1, -1, "Layer 2 experts", ""});
  if (kind == "table") return std::make_unique<TableFigure>("paper_table", "Published numbers", paper_table());
  return std::make_unique<AffinityFigure>(affinity(synthetic_trace(600, 2, 4), 1), 1, "run r");
}

// Words the SVG must hold as text: title, axis titles, tick labels.
QStringList expected_words(const QString& kind, const Figure& figure) {
  if (const auto* plot = dynamic_cast<const PlotFigure*>(&figure)) {
    const PlotLayout l = plot->layout(QSizeF(14 * kPxPerCm, 9 * kPxPerCm), FigureStyle::paper());
    QStringList words{plot->spec().title, plot->spec().x_title, plot->spec().y_title};
    for (const auto& label : l.x_ticks.labels) words << label;
    for (const auto& label : l.y_ticks.labels) words << label;
    return words;
  }
  if (kind == "table") return {"Published numbers", "Model", "Best val loss", "1.4718"};
  if (kind.startsWith("routing")) return {kind == "routing" ? "Routing of the probe text" : "Layer 2 experts", "E0"};
  return {"Char × expert affinity, layer 1", "expert", "character", "E3"};
}

// Mean absolute difference per channel (0..255) between two images of the same size.
double mean_difference(const QImage& a, const QImage& b) {
  const QImage x = a.convertToFormat(QImage::Format_ARGB32), y = b.convertToFormat(QImage::Format_ARGB32);
  double sum = 0;
  for (int r = 0; r < x.height(); ++r) {
    const auto* p = reinterpret_cast<const uchar*>(x.constScanLine(r));
    const auto* q = reinterpret_cast<const uchar*>(y.constScanLine(r));
    for (int i = 0; i < x.width() * 4; ++i) sum += std::abs(p[i] - q[i]);
  }
  return sum / (x.width() * x.height() * 4.0);
}

const QStringList kKinds = {"loss",    "loss-log",       "lr",       "throughput", "expert-load",
                            "routing", "routing-detail", "affinity", "table"};

}  // namespace

class TestFigures : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  QString exportTo(const Figure& f, const QString& name, FigureFormat format, int dpi, const QString& style = "paper") {
    ExportOptions o;
    o.format = format;
    o.size = QSizeF(14, 9);
    o.centimetres = true;
    o.dpi = dpi;
    o.style = style;
    const QString path = dir() + "/" + name + "." + suffix_of(format);
    export_figure(path, f, o);
    return path;
  }
  // MOEWB_FIGURES_DIR keeps every exported file there, to look at them.
  QString dir() const {
    const QString keep = qEnvironmentVariable("MOEWB_FIGURES_DIR");
    return keep.isEmpty() ? tmp_.path() : keep;
  }

 private Q_SLOTS:
  // A metrics.csv lacking columns (edited by hand, another configuration) gives the history it has: the missing
  // series are empty or NaN, nothing throws.
  void aHistoryReadsWhatAMetricsFileHas() {
    Config c;
    c.ffn = Ffn::moe, c.n_layer = 2, c.n_experts = 2;
    const MetricsTable table = parse_metrics_csv("step,val_loss,train_loss,L0_load_e0\n0,3.5,,0.4\n10,,2.9,\n20,2.5,2.7,0.6\n");
    const TrainingHistory h = TrainingHistory::fromMetrics(table, c);
    QCOMPARE(h.val_loss, (QList<QPointF>{{0, 3.5}, {20, 2.5}}));
    QCOMPARE(h.train_loss, (QList<QPointF>{{10, 2.9}, {20, 2.7}}));
    QVERIFY(h.lr.isEmpty() && h.elapsed.isEmpty());
    QCOMPARE(h.layers.size(), 2);
    QVERIFY(TrainingHistory::fromMetrics(parse_metrics_csv(""), c).val_loss.isEmpty());
  }

  void everyKindExports_data() {
    QTest::addColumn<QString>("kind");
    QTest::addColumn<int>("format");
    QTest::addColumn<int>("dpi");
    for (const QString& kind : kKinds) {
      for (int dpi : {96, 200, 300, 600}) QTest::newRow(qPrintable(QString("%1 png %2").arg(kind).arg(dpi))) << kind << 0 << dpi;
      QTest::newRow(qPrintable(kind + " svg")) << kind << 1 << 96;
      QTest::newRow(qPrintable(kind + " pdf")) << kind << 2 << 96;
    }
  }
  void everyKindExports() {
    QFETCH(QString, kind);
    QFETCH(int, format);
    QFETCH(int, dpi);
    const auto figure = make_figure(kind);
    const QString name = QString("%1_%2_%3").arg(kind).arg(format).arg(dpi);
    const QString path = exportTo(*figure, name, static_cast<FigureFormat>(format), dpi);
    ExportOptions o;
    o.size = QSizeF(14, 9), o.centimetres = true, o.style = "paper";
    const QSizeF logical = export_size(*figure, o);
    if (format == 0) {
      const QImage image(path);
      QCOMPARE(image.size(), png_pixel_size(logical, dpi));
      QCOMPARE(qRound(image.dotsPerMeterX() * 0.0254), dpi);
      if (dpi == 96) return;
      // The same layout at every DPI: scaled down to 96 DPI it matches the 96-DPI export. Antialiasing and
      // glyph rasterisation differ between resolutions, so pixels are not equal; the tolerance is a quarter
      // of the difference that a layout change as small as 15 % larger text makes (checked below).
      const QImage reference(exportTo(*figure, name + "_ref", FigureFormat::Png, 96));
      const QImage scaled = image.scaled(reference.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
      FigureStyle bigger = FigureStyle::paper();
      bigger.text_pt *= 1.15, bigger.label_pt *= 1.15, bigger.title_pt *= 1.15, bigger.char_pt *= 1.15;
      QImage changed(reference.size(), QImage::Format_ARGB32_Premultiplied);
      changed.setDotsPerMeterX(3780), changed.setDotsPerMeterY(3780);
      changed.fill(Qt::transparent);
      {
        QPainter p(&changed);
        figure->paint(p, QRectF(QPointF(0, 0), logical), bigger);
      }
      const double same = mean_difference(scaled, reference), layout_change = mean_difference(changed, reference);
      qInfo("%s: %d DPI scaled to 96 differs by %.2f; 15 %% larger text by %.2f", qPrintable(kind), dpi, same, layout_change);
      QVERIFY2(same < layout_change / 4, qPrintable(QString("%1 vs %2").arg(same).arg(layout_change)));
    } else if (format == 1) {
      QFile file(path);
      QVERIFY(file.open(QIODevice::ReadOnly));
      QXmlStreamReader xml(&file);
      QString text;
      while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isCharacters()) text += xml.text().toString() + "\n";
      }
      QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
      for (const QString& word : expected_words(kind, *figure))
        QVERIFY2(text.contains(word), qPrintable(QString("'%1' missing from the SVG's text").arg(word)));
    } else {
      QProcess pdftoppm;
      pdftoppm.start("pdftoppm", {"-r", "50", "-png", "-singlefile", path, dir() + "/" + name});
      QVERIFY2(pdftoppm.waitForFinished(60000), "pdftoppm did not finish (is poppler-utils installed?)");
      QCOMPARE(pdftoppm.exitCode(), 0);
      const QImage page(dir() + "/" + name + ".png");
      QVERIFY(!page.isNull());
      QVERIFY(std::abs(page.width() - logical.width() / 96 * 50) <= 2);  // the page is the figure's size
      QVERIFY(std::abs(page.height() - logical.height() / 96 * 50) <= 2);
    }
  }

  void ticksStayBetweenFourAndEightFrom6To30cm_data() {
    QTest::addColumn<QString>("kind");
    for (const QString& kind : {"loss", "loss-log", "lr", "throughput", "expert-load"}) QTest::newRow(qPrintable(kind)) << kind;
  }
  void ticksStayBetweenFourAndEightFrom6To30cm() {
    QFETCH(QString, kind);
    const auto figure = make_figure(kind);
    const auto& plot = dynamic_cast<const PlotFigure&>(*figure);
    QImage device(10, 10, QImage::Format_ARGB32_Premultiplied);
    device.setDotsPerMeterX(3780), device.setDotsPerMeterY(3780);
    for (const QString& name : FigureStyle::names())
      for (double cm = 6; cm <= 30; cm += 0.5) {
        const FigureStyle style = FigureStyle::named(name);
        const PlotLayout l = plot.layout(QSizeF(cm * kPxPerCm, std::max(5.0, cm * 0.62) * kPxPerCm), style);
        const auto x = l.x_ticks.values.size(), y = l.y_ticks.values.size();
        // paper styles (what exports use) keep 4-8; the screen style's larger text may thin a 6 cm chart to 3,
        // and so may the paper styles at 6-7 cm, where Qt Charts' title, axis title and legend leave a data area
        // under 90 px (about 70 px at 6 x 5 cm) that holds three labelled ticks
        const size_t least = name == "screen" || l.plot.height() < 90 ? 3 : 4;
        QVERIFY2(x >= least && x <= 8, qPrintable(QString("%1 cm %2: %3 x ticks, plot %4 px: %5").arg(cm).arg(name).arg(x).arg(l.plot.width()).arg(QStringList(l.x_ticks.labels.begin(), l.x_ticks.labels.end()).join(" "))));
        QVERIFY2(y >= least && y <= 8, qPrintable(QString("%1 cm %2: %3 y ticks, plot %4 of %5 px").arg(cm).arg(name).arg(y).arg(l.plot.height()).arg(std::max(5.0, cm * 0.62) * kPxPerCm)));
        // x labels never touch
        const QFontMetricsF m(style.font(style.text_pt), &device);
        double labels = 0;
        for (const auto& label : l.x_ticks.labels) labels += m.horizontalAdvance(label);
        QVERIFY2(labels + x * style.px(2) < l.plot.width(), qPrintable(QString("%1 cm %2").arg(cm).arg(name)));
      }
  }

  void tickLabelsAreDistinctAndNice_data() {
    QTest::addColumn<double>("lo");
    QTest::addColumn<double>("hi");
    QTest::addColumn<QString>("multiplier");
    QTest::newRow("steps") << 0.0 << 5000.0 << "";
    QTest::newRow("loss") << 1.37 << 4.21 << "";
    QTest::newRow("lr") << 0.0 << 1e-3 << "×10⁻³";
    QTest::newRow("tokens/s near each other") << 25100.0 << 26900.0 << "";
    QTest::newRow("huge") << 0.0 << 2.4e6 << "×10⁶";
    QTest::newRow("narrow") << 0.999 << 1.001 << "";
    QTest::newRow("shares") << 0.0 << 1.05 << "";
  }
  void tickLabelsAreDistinctAndNice() {
    QFETCH(double, lo);
    QFETCH(double, hi);
    QFETCH(QString, multiplier);
    for (int target = 4; target <= 8; ++target) {
      const AxisTicks t = linear_ticks(lo, hi, target);
      QVERIFY2(t.values.size() >= 4 && t.values.size() <= 8, qPrintable(QString::number(t.values.size())));
      QCOMPARE(QSet<QString>(t.labels.begin(), t.labels.end()).size(), static_cast<qsizetype>(t.labels.size()));
      QCOMPARE(t.multiplier, multiplier);
      for (double v : t.values) QVERIFY(v >= lo - 1e-12 && v <= hi + 1e-12);
    }
  }

  void logTicksLabelShortRangesToo() {
    const AxisTicks loss = log_ticks(1.3, 4.5, 5);  // less than a decade: linear steps on the log axis
    QVERIFY(loss.values.size() >= 4 && loss.values.size() <= 8);
    QVERIFY(std::find(loss.labels.begin(), loss.labels.end(), QString("2.0")) != loss.labels.end());
    const AxisTicks wide = log_ticks(0.009, 120, 5);  // five decades
    QCOMPARE(wide.values.size(), size_t{5});
    QCOMPARE(wide.labels.front(), QString("10⁻²"));
    const AxisTicks two = log_ticks(0.15, 30, 5);  // 1-2-5 per decade
    QVERIFY(two.values.size() >= 4 && two.values.size() <= 8);
  }

  void aTwoThousandCharacterTraceFitsAnA4Page() {
    const RoutingFigure figure(synthetic_trace(2000, 6, 8), RoutingView{});
    const double width = 17 * kPxPerCm;
    const WrappedRouting w = figure.layout(width, FigureStyle::paper());
    QVERIFY(w.per_line * w.lines >= 2000);
    QVERIFY(w.per_line * (w.lines - 1) < 2000);  // no empty line
    const double height_cm = figure.heightForWidth(width, FigureStyle::paper()) / kPxPerCm;
    qInfo("2,000 characters x 6 layers at 17 cm: %d lines of %d, %.1f cm tall", w.lines, w.per_line, height_cm);
    QVERIFY2(height_cm <= 24.7, qPrintable(QString::number(height_cm)));  // A4 less 2.5 cm margins
    QVERIFY(w.gutter + w.per_line * w.cell <= width);                    // nothing beyond the page width
    // the exported height follows the width whatever height was asked for
    ExportOptions o;
    o.size = QSizeF(17, 3), o.centimetres = true, o.style = "paper";
    QCOMPARE(export_size(figure, o).height(), figure.heightForWidth(width, FigureStyle::paper()));
  }

  void stylesByName() {
    for (const QString& name : FigureStyle::names()) QCOMPARE(FigureStyle::named(name).name, name);
    QVERIFY(FigureStyle::named("paper-serif").serif);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, FigureStyle::named("poster"));
    ExportOptions o;
    o.transparent = true;
    QCOMPARE(export_style(o).background.alpha(), 0);
  }

  void badOptionsFailWithoutAFile() {
    const auto figure = make_figure("loss");
    ExportOptions o;
    o.dpi = 5000;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, export_figure(tmp_.filePath("bad.png"), *figure, o));
    o.dpi = 96, o.size = QSizeF(0, 100);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, export_figure(tmp_.filePath("bad.png"), *figure, o));
    QVERIFY(!QFileInfo::exists(tmp_.filePath("bad.png")));
    o.size = QSizeF(100, 100);
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, export_figure(tmp_.filePath("no/such/dir/x.png"), *figure, o));
  }

  void plotCsvRoundTripsToItsPoints() {
    const auto figure = make_figure("loss");
    const auto& plot = dynamic_cast<const PlotFigure&>(*figure);
    QMap<QString, QList<QPointF>> parsed;
    for (const QString& line : plot.csv().split('\n', Qt::SkipEmptyParts)) {
      if (line.startsWith('#') || line.startsWith("series,")) continue;
      const QStringList cells = line.split(',');
      parsed[cells[0]] << QPointF(cells[1].toDouble(), cells[2].toDouble());
    }
    for (const auto& s : plot.spec().series) QCOMPARE(parsed.value(s.name), s.points);
    QVERIFY(plot.csv().contains("# x: step"));
  }

  // Qt Charts measures text through one static item, so a worker's export (Export all figures) hands the chart
  // to the GUI thread and waits; the GUI thread's event loop runs it, and an error comes back to the worker.
  void chartsAreDrawnOnTheGuiThread() {
    std::atomic<QThread*> drawn_on = nullptr;
    std::atomic<bool> done = false, rethrown = false;
    std::thread worker([&] {
      run_on_gui_thread([&] { drawn_on = QThread::currentThread(); });
      try {
        run_on_gui_thread([] { throw std::runtime_error("no room"); });
      } catch (const std::runtime_error& e) {
        rethrown = std::string(e.what()) == "no room";
      }
      done = true;
    });
    // joined whatever happens below: the worker waits for this thread's event loop, which QTRY runs
    struct Join {
      std::thread& t;
      ~Join() {
        while (t.joinable() && !done_flag.load()) QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
        if (t.joinable()) t.join();
      }
      std::atomic<bool>& done_flag;
    } join{worker, done};
    QTRY_VERIFY(done.load());
    QCOMPARE(drawn_on.load(), QCoreApplication::instance()->thread());
    QVERIFY(rethrown.load());
  }

  // One subtitle for every figure of a run (figure_subtitle): its name, its routing with k and the capacity
  // factor (not again after an automatic name, which begins with them), a trace's step and whether capacity was
  // applied to it; the training charts add the layer.
  void subtitlesNameTheRunItsRoutingTheStepAndCapacity() {
    Config c;
    c.ffn = Ffn::moe, c.n_layer = 2, c.n_experts = 4, c.top_k = 2, c.use_capacity = true, c.capacity_factor = 1.0;
    RoutingTrace t = synthetic_trace(20, 2, 4);
    t.step = 2000, t.capacity = true;
    QCOMPARE(trace_subtitle("baseline", c, t),
             QString("baseline · top-2 · N 4 · cf 1.0 · step 2000 · capacity applied to this trace"));
    QCOMPARE(trace_subtitle("top-2 · N 4 · cf 1.0 · 15:17", c, t),
             QString("top-2 · N 4 · cf 1.0 · 15:17 · step 2000 · capacity applied to this trace"));
    t.step = -1, t.capacity = false;  // an ad-hoc trace, routed as generation routes
    QCOMPARE(trace_subtitle("baseline", c, t), QString("baseline · top-2 · N 4 · cf 1.0 · capacity not applied to this trace"));
    c.use_capacity = false;
    QCOMPARE(trace_subtitle("baseline", c, t), QString("baseline · top-2 · N 4"));
    c.routing = RoutingMode::sigmoid, c.sigmoid_tau = 0.25;
    TrainingFigureOptions o;
    o.run = "baseline", o.config = c;
    QCOMPARE(expert_load_plot(synthetic_history(4), 1, 4, o).subtitle, QString("baseline · sigmoid τ 0.25 · N 4 · layer 1"));
    o.config.ffn = Ffn::dense;
    QCOMPARE(loss_plot(synthetic_history(4), o).subtitle, QString("baseline · dense"));
  }

  // Axis titles and legends are typeset, not code: "load share fᵢ" rather than "f_i", no "^2"; the figure font
  // has the subscript, so PNG and PDF draw it (SVG keeps it as text, checked in everyKindExports).
  void axisTitlesAreTypesetNotCode() {
    Config c;
    c.ffn = Ffn::moe, c.n_layer = 1, c.n_experts = 4;
    TrainingFigureOptions o;
    o.config = c;
    const TrainingHistory h = synthetic_history(4);
    const PlotSpec load = expert_load_plot(h, 0, 4, o);
    QCOMPARE(load.y_title, QString("load share fᵢ"));
    for (const PlotSpec& spec : {loss_plot(h, o), lr_plot(h, o), throughput_plot(h, o), load, load_balance_plot(h, 0, o)}) {
      QStringList shown{spec.title, spec.x_title, spec.y_title};
      for (const PlotSeries& series : spec.series) shown << series.name;
      for (const QString& text : shown)
        QVERIFY2(!text.contains('_') && !text.contains('^'), qPrintable(spec.name + ": " + text));
    }
    for (const FigureStyle& style : {FigureStyle::paper(), FigureStyle::paperSerif(), FigureStyle::screen()})
      QVERIFY2(QFontMetricsF(style.font(style.label_pt)).inFontUcs4(0x1D62), qPrintable(style.font(style.label_pt).family()));
  }

  // Runs overlays name series after run names, which the user edits: a comma or a quote stays inside its cell.
  void plotCsvQuotesSeriesNames() {
    PlotSpec spec;
    spec.series << PlotSeries{"top-2, cf 1.0 \"best\"", Qt::black, 1.0, false, {QPointF(1, 2)}};
    const QStringList lines = PlotFigure(spec).csv().split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.last(), QString("\"top-2, cf 1.0 \"\"best\"\"\",1,2"));
  }
};

QTEST_MAIN(TestFigures)
#include "tst_figures.moc"
