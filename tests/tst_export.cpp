// Figures from the widgets, runs and the paper's experiment: every figure widget opens the export menu on
// right-click and on the Menu key, heatmap data CSV round trips, "export all figures" (fixed names, PNG at its
// DPI), one subtitle per figure of a run whether a view or "export all" exports it, the five-run suite (table
// values match the run folders, a stopped suite continues), comparison exports, and the Runs panel's table and
// overlays. The renderers themselves are tested in tst_figures.
#include <QtTest>

#include <QComboBox>
#include <QDialogButtonBox>
#include <QLabel>
#include <QPushButton>
#include <QLineEdit>
#include <QMenu>
#include <QTabWidget>
#include <QTableWidget>

#include "core/base/files.h"
#include "core/runs/metrics_csv.h"
#include "core/runs/run_summary.h"
#include "core/train/suite.h"
#include "test_corpus.h"
#include "ui/common/line_chart.h"
#include "ui/export/export_dialog.h"
#include "ui/render/figure_export.h"
#include "ui/render/run_figures.h"
#include "ui/render/table_figure.h"
#include "ui/routing/affinity_view.h"
#include "ui/routing/routing_heatmap.h"
#include "ui/routing/routing_panel.h"
#include "ui/routing/stability_heatmap.h"
#include "ui/routing/stability_page.h"
#include "ui/runs/runs_panel.h"
#include "ui/shell/main_window.h"
#include "ui/training/training_panel.h"

using namespace moewb;

namespace {

RoutingTrace small_trace() {
  RoutingTrace t;
  t.routing = RoutingMode::topk, t.n_experts = 2, t.text = U"hi, there", t.step = 3;
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

// The subtitle a figure carries, whatever kind it is.
QString subtitle_of(const Figure& figure) {
  if (const auto* f = dynamic_cast<const PlotFigure*>(&figure)) return f->spec().subtitle;
  if (const auto* f = dynamic_cast<const RoutingFigure*>(&figure)) return f->view().subtitle;
  if (const auto* f = dynamic_cast<const AffinityFigure*>(&figure)) return f->subtitle();
  if (const auto* f = dynamic_cast<const StabilityFigure*>(&figure)) return f->view().subtitle;
  return "a figure without a subtitle";
}

Config tiny_suite_config() {
  Config c;
  c.n_layer = 1, c.n_head = 2, c.n_embd = 16, c.block_size = 16, c.batch_size = 4;
  c.max_iters = 6, c.lr_decay_iters = 6, c.warmup_iters = 1, c.eval_interval = 3, c.eval_iters = 1, c.log_interval = 2;
  return c;
}

}  // namespace

class TestExport : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString corpus_;

 private Q_SLOTS:
  void initTestCase() {
    corpus_ = tmp_.filePath("corpus.txt");
    atomic_write(corpus_.toStdString(), synthetic_corpus(4000));
  }

  // Right-click, the Menu key and Shift+F10 over every figure widget open a menu whose first action is Export figure.
  void everyFigureWidgetOffersExport_data() {
    QTest::addColumn<QString>("figure");
    QTest::addColumn<QString>("how");
    for (const char* figure : {"loss chart", "expert load chart", "heatmap", "compared heatmap", "affinity", "runs overlay",
                               "comparison table", "paper table"})
      for (const char* how : {"right-click", "menu key", "shift+f10"})
        QTest::newRow(qPrintable(QString("%1 %2").arg(figure, how))) << figure << QString(how);
  }
  void everyFigureWidgetOffersExport() {
    QFETCH(QString, figure);
    QFETCH(QString, how);
    Config c;
    c.ffn = Ffn::moe, c.n_layer = 1, c.n_experts = 2;
    QTabWidget tabs;
    auto* training = new TrainingPanel;
    auto* routing = new RoutingPanel;
    auto* runs = new RunsPanel;
    tabs.addTab(training, "training");
    tabs.addTab(routing, "routing");
    tabs.addTab(runs, "runs");
    training->reset(c);
    routing->reset(c);
    routing->setSnapshots({small_trace()});
    routing->setCompare(true);
    tabs.resize(1000, 700);
    tabs.show();
    QWidget* target = nullptr;
    QWidget* page = nullptr;
    if (figure == "loss chart") target = training->lossChart()->viewport(), page = training;
    if (figure == "expert load chart") target = training->loadChart()->viewport(), page = training;
    if (figure == "heatmap") target = routing->heatmap()->viewport(), page = routing;
    if (figure == "compared heatmap") target = routing->compareHeatmap()->viewport(), page = routing;
    if (figure == "affinity") target = routing->affinityView()->canvas(), page = routing;
    if (figure == "runs overlay") target = runs->lossOverlay()->viewport(), page = runs;
    if (figure == "comparison table" || figure == "paper table") {
      QTableWidget* table = figure == "paper table" ? runs->paperTable() : runs->comparison();
      target = table->viewport(), page = runs;
      tabs.setCurrentWidget(page);
      auto* inner = table->parentWidget();
      while (inner && !qobject_cast<QTabWidget*>(inner)) inner = inner->parentWidget();
      QVERIFY(inner);
      static_cast<QTabWidget*>(inner)->setCurrentIndex(1);
    }
    QVERIFY(target);
    tabs.setCurrentWidget(page);
    if (figure == "affinity") {
      auto* inner = routing->affinityView()->parentWidget();
      while (inner && !qobject_cast<QTabWidget*>(inner)) inner = inner->parentWidget();
      QVERIFY(inner);
      auto* inner_tabs = static_cast<QTabWidget*>(inner);
      for (int i = 0; i < inner_tabs->count(); ++i)
        if (inner_tabs->widget(i)->isAncestorOf(routing->affinityView())) inner_tabs->setCurrentIndex(i);
    }
    QVERIFY(QTest::qWaitForWindowExposed(&tabs));
    QTRY_VERIFY(target->isVisible());
    if (figure == "paper table") {
      // the menu exports what the widget shows
      const TableFigure shown = runs->paperFigure();
      QCOMPARE(shown.table().rows.size(), static_cast<size_t>(runs->paperTable()->rowCount()));
    }
    if (how != "right-click") {
      QWidget* focus = target;
      while (focus->focusPolicy() == Qt::NoFocus && focus->parentWidget()) focus = focus->parentWidget();
      focus->setFocus();
      if (how == "menu key") QTest::keyClick(focus, Qt::Key_Menu);
      else QTest::keyClick(focus, Qt::Key_F10, Qt::ShiftModifier);
    } else {
      // what the window system sends on a right-click (QTest's mouse clicks do not synthesise it)
      QContextMenuEvent event(QContextMenuEvent::Mouse, target->rect().center(), target->mapToGlobal(target->rect().center()));
      QApplication::sendEvent(target, &event);
    }
    QTRY_VERIFY(qobject_cast<QMenu*>(QApplication::activePopupWidget()));
    auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
    QCOMPARE(menu->actions().value(0)->text(), QString("Export figure…"));
    // the three exports first; a chart adds its view actions (Reset zoom) below them
    QCOMPARE(menu->actions().value(2)->text(), QString("Export data as JSON…"));
    menu->close();
  }

  // A typed name picks the format, so the file's bytes match its name; a name without a figure suffix gets the
  // format's, and the dialog says so before saving. The export function refuses a name and format that disagree.
  void typedSuffixPicksTheExportFormat() {
    const TableFigure figure("table", "t", Table{{"a", "b"}, {{"1", "2"}}});
    ExportDialog dialog(tmp_.filePath("table.png"), figure);
    auto* path = dialog.findChild<QLineEdit*>();
    auto* note = dialog.findChild<QLabel*>("suffix_note");
    QVERIFY(path && note);
    QCOMPARE(dialog.options().format, FigureFormat::Png);
    path->selectAll();
    QTest::keyClicks(path, tmp_.filePath("heatmap_all.svg"));
    QCOMPARE(dialog.options().format, FigureFormat::Svg);
    QCOMPARE(dialog.path(), tmp_.filePath("heatmap_all.svg"));
    QVERIFY(note->isHidden());
    path->setText(tmp_.filePath("figure.v2"));
    QCOMPARE(dialog.options().format, FigureFormat::Svg);  // an unknown suffix leaves the format as chosen
    QCOMPARE(dialog.path(), tmp_.filePath("figure.v2.svg"));
    QVERIFY(!note->isHidden());
    QVERIFY2(note->text().endsWith("saved as figure.v2.svg"), qPrintable(note->text()));
    path->setText(tmp_.filePath("upper.PDF"));
    QCOMPARE(dialog.options().format, FigureFormat::Pdf);
    export_figure(dialog.path(), figure, dialog.options());
    QFile pdf(dialog.path());
    QVERIFY(pdf.open(QIODevice::ReadOnly));
    QVERIFY(pdf.read(5) == "%PDF-");
    // choosing a format swaps only the suffix of what was typed; no name, no Save
    auto* format = dialog.findChild<QComboBox*>("format");
    path->setText("report.png");
    format->setCurrentIndex(static_cast<int>(FigureFormat::Svg));
    QCOMPARE(path->text(), QString("report.svg"));
    auto* save = dialog.findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Save);
    QVERIFY(save->isEnabled());
    path->setText("");
    QVERIFY(!save->isEnabled());
    ExportOptions png;
    png.format = FigureFormat::Png;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, export_figure(tmp_.filePath("wrong.svg"), figure, png));
    QVERIFY(!QFileInfo::exists(tmp_.filePath("wrong.svg")));
  }

  void heatmapCsvRoundTripsToTheTrace() {
    RoutingHeatmap map;
    map.setTrace(small_trace());
    const QStringList lines = map.exportFigure()->csv().split('\n', Qt::SkipEmptyParts);
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
    c.ffn = Ffn::moe, c.n_experts = 2, c.top_k = 1;
    const std::string run = tmp_.filePath("figures_run").toStdString();
    {
      auto t = Trainer::create(c, TextDataset::from_file(corpus_.toStdString()), run, corpus_.toStdString());
      while (!t->done()) t->advance();
    }
    const QStringList written = export_run_figures(QString::fromStdString(run), {FigureFormat::Svg, FigureFormat::Png});
    for (const char* name : {"loss.svg", "loss.png", "loss.csv", "learning_rate.json", "expert_load_L0.svg",
                             "load_balance_L0.png", "routing_final.svg", "routing_final_L0_experts.png",
                             "affinity_final_L0.csv", "routing_stability_L0.png", "routing_stability_L0.csv"})
      QVERIFY2(QFileInfo::exists(QString::fromStdString(run) + "/figures/" + name), name);
    const QImage loss(QString::fromStdString(run) + "/figures/loss.png");
    QCOMPARE(loss.size(), QSize(1102, 709));  // 14 x 9 cm at the default 200 DPI
    QCOMPARE(qRound(loss.dotsPerMeterX() * 0.0254), 200);
    // the same names the second time: nothing new appears
    const QStringList again = export_run_figures(QString::fromStdString(run), {FigureFormat::Svg, FigureFormat::Png});
    QCOMPARE(again, written);
    QCOMPARE(QDir(QString::fromStdString(run) + "/figures").entryList(QDir::Files).size(), written.size());
  }

  // One subtitle per figure of a run, whichever way it is exported: the views' own exports (the opened run's
  // Training and Routing tabs) and Export all figures name the run by the name the user gave it (not its folder's),
  // its routing with k and the capacity factor, and for a trace its step and whether capacity was applied to it.
  void theViewsExportAndExportAllGiveOneSubtitle() {
    qputenv("MOEWB_RUNS_DIR", tmp_.filePath("no_runs").toUtf8());  // the window lists no one's runs
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("moewb-tests-export");
    Config c = tiny_suite_config();
    c.ffn = Ffn::moe, c.n_experts = 4, c.top_k = 2, c.use_capacity = true, c.capacity_factor = 1.0;
    const QString dir = tmp_.filePath("subtitles/20261206-151700-000-topk");
    {
      auto t = Trainer::create(c, TextDataset::from_file(corpus_.toStdString()), dir.toStdString(), corpus_.toStdString());
      while (!t->done()) t->advance();
    }
    write_run_meta(dir.toStdString(), RunMeta{"capacity probe", {}});  // renamed; the folder keeps its name
    std::map<QString, QString> exported;
    for (const RunFigure& f : run_figures(dir)) exported[f.name] = subtitle_of(*f.figure);
    QCOMPARE(exported["routing_final"],
             QString("capacity probe · top-2 · N 4 · cf 1.0 · step 6 · capacity not applied to this trace"));
    QCOMPARE(exported["loss"], QString("capacity probe · top-2 · N 4 · cf 1.0"));

    MainWindow w(corpus_);
    QSignalSpy opened(&w, &MainWindow::runOpened);
    QVERIFY(w.openRun(dir));
    QVERIFY(opened.wait(30000));
    RoutingPanel* routing = w.routingPanel();
    QCOMPARE(subtitle_of(*routing->heatmap()->exportFigure()), exported["routing_final"]);
    QCOMPARE(subtitle_of(*routing->affinityView()->exportFigure()), exported["affinity_final_L0"]);
    QCOMPARE(subtitle_of(*routing->stabilityPage()->heatmap()->exportFigure()), exported["routing_stability_L0"]);
    QCOMPARE(subtitle_of(*w.trainingPanel()->lossChart()->exportFigure()), exported["loss"]);
    QCOMPARE(subtitle_of(*w.trainingPanel()->loadChart()->exportFigure()), exported["expert_load_L0"]);
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
    const std::vector<std::string> kinds = {"dense", "softmax N=4", "top-2 of 4", "top-2 of 4 cf=0.5",
                                             "top-2 of 4 cf=1.0"};
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
    QCOMPARE(started_at.front(), 3);  // the third starts again from its checkpoint of step 3
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
    QSignalSpy refreshed(&panel, &RunsPanel::refreshed);
    panel.setRunsDirectory(tmp_.path());
    QVERIFY(refreshed.wait(30000));  // the directory is read off the GUI thread
    // the five suite runs, the restarted suite's five, and the single figures run
    QCOMPARE(panel.table()->rowCount(), 11);
    const QString a = tmp_.filePath("suite/1-dense"), b = tmp_.filePath("suite/3-top2");
    panel.selectRuns({a, b});
    QCOMPARE(panel.selectedRuns().size(), 2);
    QCOMPARE(panel.lossOverlay()->seriesNames().size(), 2);
    QCOMPARE(panel.comparison()->rowCount(), 2);
    const QString md = tmp_.filePath("cmp.md");
    panel.exportComparison(md);
    QVERIFY(QString::fromStdString(read_file(md.toStdString())).contains("| top-2 of 4 |"));
    int best_val = -1;
    for (int c = 0; c < panel.table()->columnCount(); ++c)
      if (panel.table()->horizontalHeaderItem(c)->text() == "Best val") best_val = c;
    QVERIFY(best_val >= 0);
    panel.table()->sortByColumn(best_val, Qt::AscendingOrder);
    double previous = -1;
    for (int r = 0; r < panel.table()->rowCount(); ++r) {
      const double v = panel.table()->item(r, best_val)->data(Qt::UserRole).toDouble();
      QVERIFY(v >= previous);
      previous = v;
    }
  }
};

QTEST_MAIN(TestExport)
#include "tst_export.moc"
