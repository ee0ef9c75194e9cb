#include "ui/render/run_figures.h"

#include <QDir>

#include "core/runs/run_folder.h"
#include "core/runs/run_name.h"
#include "core/runs/run_summary.h"
#include "core/trace/routing_stability.h"
#include "ui/render/affinity_figure.h"
#include "ui/render/routing_figure.h"
#include "ui/render/stability_figure.h"
#include "ui/render/training_figures.h"

namespace moewb {

namespace {
constexpr QSizeF kChartSizeCm{14, 9};
constexpr double kPageWidthCm = 17;  // wrapped routing figures: an A4 text column

// The final snapshot's routing (all layers, then each layer's experts) and affinity, and where routing changed
// over training (two snapshots of one probe text at least).
void add_routing_figures(std::vector<RunFigure>& out, const QString& run, const Config& config,
                         const std::vector<RoutingTrace>& traces) {
  const RoutingTrace& final_trace = traces.back();
  const QString where = trace_subtitle(run, config, final_trace);
  const QSizeF page(kPageWidthCm, 0);
  RoutingView view;
  view.title = "Routing of the probe text";
  view.subtitle = where;
  out.push_back({"routing_final", std::make_unique<RoutingFigure>(final_trace, view), page});
  for (int l = 0; l < config.n_layer; ++l) {
    view.detail_layer = l;
    view.title = QString("Routing of the probe text, layer %1 experts").arg(l);
    out.push_back({QString("routing_final_L%1_experts").arg(l), std::make_unique<RoutingFigure>(final_trace, view), page});
    auto affinity_figure = std::make_unique<AffinityFigure>(affinity(final_trace, l), l, where);
    const QSizeF natural = affinity_figure->naturalSize();
    out.push_back({QString("affinity_final_L%1").arg(l), std::move(affinity_figure), natural, false});
  }
  for (int l = 0; l < config.n_layer; ++l) {
    const TopExpertChangeMatrix matrix = top_expert_change_matrix(traces, l);
    if (matrix.empty()) break;
    StabilityView stability;
    stability.title = QString("Top-expert changes per character between snapshots, layer %1").arg(l);
    stability.subtitle = stability_subtitle(run, config, matrix);
    out.push_back({QString("routing_stability_L%1").arg(l), std::make_unique<StabilityFigure>(matrix, stability), page});
  }
}
}  // namespace

std::vector<RunFigure> run_figures(const QString& runDir) {
  const std::string dir = runDir.toStdString();
  const RunFolder::Contents contents = RunFolder(dir).read();
  const Config& config = contents.config;
  if (!contents.snapshots.skipped.empty())  // a figure left out would go unnoticed in a folder of figures
    throw std::runtime_error("cannot read the routing snapshot " + contents.snapshots.skipped.front());
  const QString run = QString::fromStdString(run_display_name(read_run_meta(dir).name, config, run_start_time(dir)));
  const TrainingHistory history = TrainingHistory::fromMetrics(contents.metrics, config);
  TrainingFigureOptions options;
  options.run = run;
  options.config = config;
  std::vector<RunFigure> out;
  out.push_back({"loss", std::make_unique<PlotFigure>(loss_plot(history, options)), kChartSizeCm});
  out.push_back({"learning_rate", std::make_unique<PlotFigure>(lr_plot(history, options)), kChartSizeCm});
  out.push_back({"throughput", std::make_unique<PlotFigure>(throughput_plot(history, options)), kChartSizeCm});
  if (!config.is_moe()) return out;
  for (int l = 0; l < config.n_layer; ++l) {
    out.push_back({QString("expert_load_L%1").arg(l),
                   std::make_unique<PlotFigure>(expert_load_plot(history, l, config.n_experts, options)), kChartSizeCm});
    out.push_back({QString("load_balance_L%1").arg(l),
                   std::make_unique<PlotFigure>(load_balance_plot(history, l, options)), kChartSizeCm});
  }
  if (!contents.snapshots.traces.empty()) add_routing_figures(out, run, config, contents.snapshots.traces);
  return out;
}

QStringList export_run_figures(const QString& runDir, const QList<FigureFormat>& formats, int dpi, const QString& style) {
  FigureStyle::named(style);  // an unknown style fails before anything is written
  const std::vector<RunFigure> figures = run_figures(runDir);
  const QDir out(QString::fromStdString(RunFolder(runDir.toStdString()).figures_dir()));
  if (!out.exists() && !QDir().mkpath(out.path())) throw std::runtime_error("cannot create " + out.path().toStdString());
  QStringList written;
  for (const RunFigure& f : figures) {
    for (FigureFormat format : formats) {
      ExportOptions o;
      o.format = format;
      o.size = f.size;
      o.centimetres = f.centimetres;
      o.dpi = dpi;
      o.style = style;
      const QString path = out.filePath(f.name + "." + suffix_of(format));
      export_figure(path, *f.figure, o);
      written << path;
    }
    export_figure_data(out.filePath(f.name + ".csv"), f.figure->csv());
    export_figure_data(out.filePath(f.name + ".json"), f.figure->json());
    written << out.filePath(f.name + ".csv") << out.filePath(f.name + ".json");
  }
  return written;
}

}  // namespace moewb
