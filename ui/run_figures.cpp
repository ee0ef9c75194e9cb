#include "run_figures.h"

#include <QDir>

#include "affinity_view.h"
#include "exportable_figure.h"
#include "files.h"
#include "metrics_csv.h"
#include "routing_heatmap.h"
#include "training_history.h"
#include "training_panel.h"

namespace moewb {

namespace {
constexpr QSize kChartSize{800, 500};
}

QStringList export_run_figures(const QString& runDir, const QList<FigureFormat>& formats, int dpi) {
  const std::string dir = runDir.toStdString();
  std::vector<FieldError> errors;
  const Config config = config_from_json(read_file(dir + "/config.json"), Config{}, errors);
  if (!errors.empty()) throw std::runtime_error(dir + "/config.json is invalid: " + describe(errors));
  const MetricsTable table = parse_metrics_csv(read_file(dir + "/metrics.csv"));
  const QDir out(runDir + "/figures");
  if (!out.exists() && !QDir().mkpath(out.path())) throw std::runtime_error("cannot create " + out.path().toStdString());

  QStringList written;
  auto save = [&](ExportableFigure& figure, const QString& name, QSize size) {
    for (FigureFormat f : formats) {
      ExportOptions o;
      o.format = f;
      o.size = size;
      o.dpi = dpi;
      const QString path = out.filePath(name + "." + suffix_of(f));
      export_figure(path, [&figure](QPainter& p, const QRect& r) { figure.paintFigure(p, r); }, o);
      written << path;
    }
    export_figure_data(out.filePath(name + ".csv"), figure.dataCsv());
    export_figure_data(out.filePath(name + ".json"), figure.dataJson());
    written << out.filePath(name + ".csv") << out.filePath(name + ".json");
  };

  TrainingPanel panel;
  panel.load(TrainingHistory::fromMetrics(table, config), config);
  panel.flush();
  const QList<LineChart*> charts = panel.charts();
  save(*charts[0], "loss", kChartSize);
  save(*charts[1], "learning_rate", kChartSize);
  save(*charts[2], "throughput", kChartSize);
  if (!config.is_moe()) return written;
  for (int l = 0; l < config.n_layer; ++l) {
    panel.showLayer(l);
    save(*panel.loadChart(), QString("expert_load_L%1").arg(l), kChartSize);
    save(*panel.balanceChart(), QString("load_balance_L%1").arg(l), kChartSize);
  }
  const QStringList snapshots = QDir(runDir + "/routing").entryList({"step_*.json"}, QDir::Files, QDir::Name);
  if (snapshots.isEmpty()) return written;
  const RoutingTrace final_trace =
      RoutingTrace::from_json(read_file((runDir + "/routing/" + snapshots.last()).toStdString()));
  RoutingHeatmap heatmap;
  heatmap.setTrace(final_trace);
  save(heatmap, "routing_final", heatmap.naturalSize());
  AffinityView affinity_view;
  for (int l = 0; l < config.n_layer; ++l) {
    heatmap.setDetailLayer(l);
    save(heatmap, QString("routing_final_L%1_experts").arg(l), heatmap.naturalSize());
    affinity_view.setAffinity(affinity(final_trace, l), l);
    save(affinity_view, QString("affinity_final_L%1").arg(l), affinity_view.naturalSize());
  }
  return written;
}

}  // namespace moewb
