// Figures, runs and the paper's experiment: export of a chart and a heatmap to PNG/SVG/PDF (checked as a user
// would: PNG pixel size for its DPI, SVG parses and holds the chart's text, PDF renders with pdftoppm), data
// CSV round trips, "export all figures", the five-run suite (table values match the run folders, a stopped
// suite continues), comparison exports, and the Runs panel's table and overlays.
#include <QtTest>

#include <QProcess>
#include <QTableWidget>
#include <QXmlStreamReader>

#include "figure_export.h"
#include "files.h"
#include "line_chart.h"
#include "metrics_csv.h"
#include "routing_heatmap.h"
#include "run_figures.h"
#include "runs_panel.h"
#include "suite.h"
#include "test_corpus.h"

using namespace moewb;

namespace {

RoutingTrace small_trace() {
  RoutingTrace t;
  t.routing = "topk", t.n_experts = 2, t.text = U"hi, there", t.step = 3;
  LayerTrace l;
  l.n_experts = 2, l.slots = 1;
  for (int i = 0; i < 9; ++i) {
    const float p = 0.1f * static_cast<float>(i % 10);
    l.probs.insert(l.probs.end(), {p, 1 - p});
    l.chosen.push_back(p > 0.5f ? 0 : 1);
    l.weights.push_back(1.0f);
    l.dropped.push_back(i == 4);
  }
  t.layers = {l};
  return t;
}

Config tiny_suite_config() {
  Config c;
  c.n_layer = 1, c.n_head = 2, c.n_embd = 16, c.block_size = 16, c.batch_size = 4;
  c.max_iters = 6, c.lr_decay_iters = 6, c.warmup_iters = 1, c.eval_interval = 3, c.eval_iters = 1, c.log_interval = 2;
  return c;
}

QString format_name(FigureFormat f) { return suffix_of(f); }

}  // namespace

class TestExport : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString corpus_;

  ExportableFigure* make(const QString& kind, std::unique_ptr<LineChart>& chart, std::unique_ptr<RoutingHeatmap>& map) {
    if (kind == "chart") {
      chart = std::make_unique<LineChart>("Validation loss", "");
      chart->addSeries("val", Qt::red);
      chart->setPoints("val", {{0, 4.2}, {250, 2.1}, {500, 1.8765432}});
      return chart.get();
    }
    map = std::make_unique<RoutingHeatmap>();
    map->setTrace(small_trace());
    return map.get();
  }

 private Q_SLOTS:
  void initTestCase() {
    corpus_ = tmp_.filePath("corpus.txt");
    atomic_write(corpus_.toStdString(), synthetic_corpus(4000));
  }

  void exportFormats_data() {
    QTest::addColumn<QString>("kind");
    QTest::addColumn<int>("format");
    QTest::addColumn<QString>("text");
    for (const char* kind : {"chart", "heatmap"})
      for (FigureFormat f : {FigureFormat::Png, FigureFormat::Svg, FigureFormat::Pdf})
        QTest::newRow(qPrintable(QString("%1 %2").arg(kind, format_name(f))))
            << kind << static_cast<int>(f) << (QString(kind) == "chart" ? "Validation loss" : "layer 0");
  }
  void exportFormats() {
    QFETCH(QString, kind);
    QFETCH(int, format);
    QFETCH(QString, text);
    std::unique_ptr<LineChart> chart;
    std::unique_ptr<RoutingHeatmap> map;
    ExportableFigure* figure = make(kind, chart, map);
    ExportOptions o;
    o.format = static_cast<FigureFormat>(format);
    o.size = QSizeF(10, 6);
    o.centimetres = true;
    o.dpi = 300;
    const QString path = tmp_.filePath(kind + "." + suffix_of(o.format));
    export_figure(path, [figure](QPainter& p, const QRect& r) { figure->paintFigure(p, r); }, o);
    QVERIFY(QFileInfo(path).size() > 0);
    if (o.format == FigureFormat::Png) {
      const QImage image(path);
      QCOMPARE(image.size(), QSize(1181, 709));  // 10 x 6 cm at 300 DPI
      QCOMPARE(image.size(), png_pixel_size(o));
      QCOMPARE(qRound(image.dotsPerMeterX() * 0.0254), 300);
    } else if (o.format == FigureFormat::Svg) {
      QFile file(path);
      QVERIFY(file.open(QIODevice::ReadOnly));
      QXmlStreamReader xml(&file);
      QString all_text;
      int rects = 0;
      while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isCharacters()) all_text += xml.text();
        if (xml.isStartElement() && (xml.name() == QLatin1String("rect") || xml.name() == QLatin1String("path") ||
                                     xml.name() == QLatin1String("polyline")))
          ++rects;
      }
      QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
      QVERIFY2(all_text.contains(text), qPrintable(all_text.left(400)));  // text stays text
      QVERIFY(rects > 5);                                                 // shapes stay shapes (cells, lines)
    } else {
      QProcess pdftoppm;
      pdftoppm.start("pdftoppm", {"-r", "50", "-png", path, tmp_.filePath(kind + "_pdf")});
      QVERIFY2(pdftoppm.waitForFinished(30000), "pdftoppm did not finish (is poppler-utils installed?)");
      QCOMPARE(pdftoppm.exitCode(), 0);
      const QImage page(tmp_.filePath(kind + "_pdf-1.png"));
      QVERIFY(!page.isNull());
      QVERIFY(std::abs(page.width() - qRound(10 / 2.54 * 50)) <= 2);  // the page is the figure's size
    }
  }

  void pixelSizesFollowTheDpi() {
    ExportOptions o;
    o.size = QSizeF(800, 500);
    o.dpi = 96;
    QCOMPARE(png_pixel_size(o), QSize(800, 500));
    o.dpi = 192;
    QCOMPARE(png_pixel_size(o), QSize(1600, 1000));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, format_of("bmp"));
  }

  void chartCsvRoundTripsToItsPoints() {
    std::unique_ptr<LineChart> chart;
    std::unique_ptr<RoutingHeatmap> map;
    make("chart", chart, map);
    chart->addSeries("train", Qt::blue);
    chart->setPoints("train", {{10, 3.3333333333333335}, {20, 2.0000000001}});
    QMap<QString, QList<QPointF>> parsed;
    for (const QString& line : chart->dataCsv().split('\n', Qt::SkipEmptyParts)) {
      if (line.startsWith('#') || line.startsWith("series,")) continue;
      const QStringList cells = line.split(',');
      parsed[cells[0]] << QPointF(cells[1].toDouble(), cells[2].toDouble());
    }
    QCOMPARE(parsed.value("val"), chart->points("val"));
    QCOMPARE(parsed.value("train"), chart->points("train"));
    QVERIFY(chart->dataCsv().contains("# x: step"));
  }

  void heatmapCsvRoundTripsToTheTrace() {
    RoutingHeatmap map;
    map.setTrace(small_trace());
    const QStringList lines = map.dataCsv().split('\n', Qt::SkipEmptyParts);
    int rows = 0;
    for (const QString& line : lines) {
      if (line.startsWith('#') || line.startsWith("position,")) continue;
      // position,character,layer,expert,probability,chosen,weight,dropped (a quoted comma stays one cell)
      const QStringList cells = line.contains("\",\"") ? QStringList{line.section(',', 0, 0), ",",
                                                                     line.section(',', 3, 3), line.section(',', 4, 4),
                                                                     line.section(',', 5, 5), line.section(',', 6, 6),
                                                                     line.section(',', 7, 7), line.section(',', 8, 8)}
                                                       : line.split(',');
      const int t = cells[0].toInt(), e = cells[3].toInt();
      QCOMPARE(cells[4].toFloat(), small_trace().layers[0].prob(t, e));
      QCOMPARE(cells[7].toInt() == 1, t == 4 && small_trace().layers[0].chosen_at(t, 0) == e);
      ++rows;
    }
    QCOMPARE(rows, 9 * 2);
  }

  void exportAllFiguresWritesFixedNames() {
    Config c = tiny_suite_config();
    c.ffn = "moe", c.n_experts = 2, c.top_k = 1;
    const std::string run = tmp_.filePath("figures_run").toStdString();
    {
      auto t = Trainer::create(c, TextDataset::from_file(corpus_.toStdString()), run, corpus_.toStdString());
      while (!t->done()) t->advance();
    }
    const QStringList written = export_run_figures(QString::fromStdString(run), {FigureFormat::Svg, FigureFormat::Png});
    for (const char* name : {"loss.svg", "loss.png", "loss.csv", "learning_rate.json", "expert_load_L0.svg",
                             "load_balance_L0.png", "routing_final.svg", "routing_final_L0_experts.png",
                             "affinity_final_L0.csv"})
      QVERIFY2(QFileInfo::exists(QString::fromStdString(run) + "/figures/" + name), name);
    // the same names the second time: nothing new appears
    const QStringList again = export_run_figures(QString::fromStdString(run), {FigureFormat::Svg, FigureFormat::Png});
    QCOMPARE(again, written);
    QCOMPARE(QDir(QString::fromStdString(run) + "/figures").entryList(QDir::Files).size(), written.size());
  }

  void suiteRunsFiveVariantsAndTheTableMatchesTheirFolders() {
    const std::string dir = tmp_.filePath("suite").toStdString();
    Suite suite = Suite::create(dir, tiny_suite_config(), corpus_.toStdString());
    std::atomic<bool> stop{false};
    QVERIFY(suite.run(stop, {}));
    QVERIFY(suite.done());
    const auto runs = suite.summaries();
    QCOMPARE(runs.size(), size_t{5});
    const Table table = comparison_table(runs);
    QCOMPARE(table.rows.size(), size_t{5});
    const std::vector<std::string> kinds = {"dense", "softmax N=4", "top-2", "top-2 cf=0.5", "top-2 cf=1.0"};
    for (size_t i = 0; i < runs.size(); ++i) {
      QCOMPARE(table.rows[i][0], kinds[i]);
      const MetricsTable m = parse_metrics_csv(read_file(runs[i].dir + "/metrics.csv"));
      double best = 1e9;
      for (double v : m.column("val_loss"))
        if (!std::isnan(v)) best = std::min(best, v);
      QCOMPARE(QString::fromStdString(table.rows[i][1]).left(6), QString::number(best, 'f', 4));
      QVERIFY(runs[i].generation_tokens_per_sec > 0);
      QCOMPARE(runs[i].last_step, 6);
    }
    QVERIFY(runs[3].mean_dropped > 0);  // capacity 0.5 drops assignments
    QCOMPARE(runs[2].mean_dropped, 0.0);
  }

  void stoppedSuiteContinuesWhereItStopped() {
    const std::string dir = tmp_.filePath("suite_restart").toStdString();
    std::atomic<bool> stop{false};
    {
      Suite suite = Suite::create(dir, tiny_suite_config(), corpus_.toStdString());
      QVERIFY(!suite.run(stop, [&](const SuiteProgress& p) {
        if (p.variant == 2 && p.step == 3) stop = true;  // in the middle of the third run
      }));
      QVERIFY(suite.variant_done(0) && suite.variant_done(1) && !suite.variant_done(2));
    }
    const std::string first_metrics = read_file(dir + "/1-dense/metrics.csv");
    stop = false;
    Suite reopened = Suite::open(dir);  // as after an app restart
    std::vector<int> started_at;
    QVERIFY(reopened.run(stop, [&](const SuiteProgress& p) {
      if (started_at.empty() || started_at.size() <= static_cast<size_t>(p.variant - 2)) started_at.push_back(p.step);
    }));
    QVERIFY(reopened.done());
    QCOMPARE(read_file(dir + "/1-dense/metrics.csv"), first_metrics);  // finished runs are not redone
    QCOMPARE(started_at.front(), 4);                                   // the third resumed after step 3
  }

  void comparisonExports() {
    const std::string dir = tmp_.filePath("suite").toStdString();
    const Table t = comparison_table(Suite::open(dir).summaries());
    const QStringList md = QString::fromStdString(t.to_markdown()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(md.size(), 2 + 5);
    for (const QString& line : md) QCOMPARE(line.count('|'), 9 + 1);
    const QStringList csv = QString::fromStdString(t.to_csv()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(csv.size(), 1 + 5);
    QVERIFY(csv[0].startsWith("Model,Best val loss,Training time (s)"));
    const QString tex = QString::fromStdString(t.to_latex("Five runs"));
    QVERIFY(tex.contains("\\begin{tabular}{lrrrrrrrr}"));
    QCOMPARE(tex.count("\\\\\n"), 1 + 5);
    QVERIFY(tex.contains("\\%)"));
    QVERIFY(!tex.contains(QRegularExpression("[^\\\\]%")));  // every percent sign is escaped
    QCOMPARE(paper_table().rows.size(), size_t{5});
  }

  void runsPanelListsSortsAndOverlays() {
    RunsPanel panel;
    panel.setRunsDirectory(tmp_.path());
    // the five suite runs, the restarted suite's five, and the single figures run
    QCOMPARE(panel.table()->rowCount(), 11);
    const QString a = tmp_.filePath("suite/1-dense"), b = tmp_.filePath("suite/3-top2");
    panel.selectRuns({a, b});
    QCOMPARE(panel.selectedRuns().size(), 2);
    QCOMPARE(panel.lossOverlay()->seriesNames().size(), 2);
    QCOMPARE(panel.comparison()->rowCount(), 2);
    const QString md = tmp_.filePath("cmp.md");
    panel.exportComparison(md);
    QVERIFY(QString::fromStdString(read_file(md.toStdString())).contains("| top-2 |"));
    panel.table()->sortByColumn(3, Qt::AscendingOrder);  // best val
    double previous = -1;
    for (int r = 0; r < panel.table()->rowCount(); ++r) {
      const double v = panel.table()->item(r, 3)->data(Qt::UserRole).toDouble();
      QVERIFY(v >= previous);
      previous = v;
    }
  }
};

QTEST_MAIN(TestExport)
#include "tst_export.moc"
