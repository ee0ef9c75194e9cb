#include "run_figures.h"

#include <QDir>
#include <QFileInfo>

#include "affinity_figure.h"
#include "files.h"
#include "metrics_csv.h"
#include "routing_figure.h"
#include "routing_stability.h"
#include "stability_figure.h"
#include "training_figures.h"

namespace moewb {

namespace {
constexpr QSizeF kChartSizeCm{14, 9};
constexpr double kPageWidthCm = 17;  // wrapped routing figures: an A4 text column

QString routing_kind(const Config& c) {
  QString kind = QString::fromStdString(name_of(c.routing));
  if (c.routing == RoutingMode::topk) kind = QString("top-%1").arg(c.top_k);
  if (c.routing == RoutingMode::topk && c.use_capacity) kind += QString(" cf=%1").arg(c.capacity_factor);
  return QString("%1, N=%2").arg(kind).arg(c.n_experts);
}
}  // namespace

QStringList export_run_figures(const QString& runDir, const QList<FigureFormat>& formats, int dpi, const QString& style) {
  FigureStyle::named(style);  // an unknown style fails before anything is written
  const std::string dir = runDir.toStdString();
  std::vector<FieldError> errors;
  const Config config = config_from_json(read_file(dir + "/config.json"), Config{}, errors);
  if (!errors.empty()) throw std::runtime_error(dir + "/config.json is invalid: " + describe(errors));
  const MetricsTable table = parse_metrics_csv(read_file(dir + "/metrics.csv"));
  const QDir out(runDir + "/figures");
  if (!out.exists() && !QDir().mkpath(out.path())) throw std::runtime_error("cannot create " + out.path().toStdString());
  const QString run = QFileInfo(runDir).fileName();

  QStringList written;
  auto save = [&](const Figure& figure, const QString& name, QSizeF size, bool cm) {
    for (FigureFormat f : formats) {
      ExportOptions o;
      o.format = f;
      o.size = size;
      o.centimetres = cm;
      o.dpi = dpi;
      o.style = style;
      const QString path = out.filePath(name + "." + suffix_of(f));
      export_figure(path, figure, o);
      written << path;
    }
    export_figure_data(out.filePath(name + ".csv"), figure.csv());
    export_figure_data(out.filePath(name + ".json"), figure.json());
    written << out.filePath(name + ".csv") << out.filePath(name + ".json");
  };

  const TrainingHistory history = TrainingHistory::fromMetrics(table, config);
  TrainingFigureOptions options;
  options.run = run;
  save(PlotFigure(loss_plot(history, options)), "loss", kChartSizeCm, true);
  save(PlotFigure(lr_plot(history, options)), "learning_rate", kChartSizeCm, true);
  save(PlotFigure(throughput_plot(history, options)), "throughput", kChartSizeCm, true);
  if (!config.is_moe()) return written;
  for (int l = 0; l < config.n_layer; ++l) {
    save(PlotFigure(expert_load_plot(history, l, config.n_experts, options)), QString("expert_load_L%1").arg(l),
         kChartSizeCm, true);
    save(PlotFigure(load_balance_plot(history, l, options)), QString("load_balance_L%1").arg(l), kChartSizeCm, true);
  }
  const QStringList snapshots = QDir(runDir + "/routing").entryList({"step_*.json"}, QDir::Files, QDir::Name);
  if (snapshots.isEmpty()) return written;
  const RoutingTrace final_trace =
      RoutingTrace::from_json(read_file((runDir + "/routing/" + snapshots.last()).toStdString()));
  const QString where = QString("run %1 · step %2 · %3").arg(run).arg(final_trace.step).arg(routing_kind(config));
  RoutingView view;
  view.title = "Routing of the probe text";
  view.subtitle = where;
  const QSizeF page(kPageWidthCm, 0);
  save(RoutingFigure(final_trace, view), "routing_final", page, true);
  for (int l = 0; l < config.n_layer; ++l) {
    view.detail_layer = l;
    view.title = QString("Routing of the probe text, layer %1 experts").arg(l);
    save(RoutingFigure(final_trace, view), QString("routing_final_L%1_experts").arg(l), page, true);
    const AffinityFigure affinity_figure(affinity(final_trace, l), l, where);
    save(affinity_figure, QString("affinity_final_L%1").arg(l), affinity_figure.naturalSize(), false);
  }
  // where routing changed over training: needs two snapshots of one probe text
  std::vector<RoutingTrace> traces;
  for (const QString& name : snapshots)
    traces.push_back(RoutingTrace::from_json(read_file((runDir + "/routing/" + name).toStdString())));
  for (int l = 0; l < config.n_layer; ++l) {
    const TopExpertChangeMatrix matrix = top_expert_change_matrix(traces, l);
    if (matrix.empty()) break;
    StabilityView stability;
    stability.title = QString("Top-expert changes per character between snapshots, layer %1").arg(l);
    stability.subtitle = QString("run %1 · %2 · %3 snapshots (steps %4–%5)")
                             .arg(run, routing_kind(config))
                             .arg(matrix.rows() + 1)
                             .arg(matrix.steps.front())
                             .arg(matrix.steps.back());
    save(StabilityFigure(matrix, stability), QString("routing_stability_L%1").arg(l), page, true);
  }
  return written;
}

}  // namespace moewb
