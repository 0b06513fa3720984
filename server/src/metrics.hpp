// The process-wide Prometheus registry and the host's own metrics (build, plugins, HTTP), the
// standard process metrics, and gauges read at each scrape.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "process_metrics.hpp"

namespace flashsale {

class Metrics {
 public:
  Metrics();
  [[nodiscard]] prometheus::Registry& registry() { return *registry_; }
  /// The text exposition format (version 0.0.4) of every registered metric, the process
  /// metrics and the sampled gauges.
  [[nodiscard]] std::string serialize() const;

  void plugin_loaded(const std::string& name, const std::string& kind, const std::string& version);
  /// The result of a plugin's latest health check (flashsale_plugin_health: 1 ok, 0 not).
  void plugin_health(const std::string& name, const std::string& kind, bool ok);
  /// A gauge whose value is `read()` at each scrape. `read` runs on the scraping network thread,
  /// so it must not block; what it reads must outlive every later serialize().
  void add_sampled_gauge(const std::string& name, const std::string& help,
                         const prometheus::Labels& labels, std::function<double()> read);
  /// Counts one answered request; `route` is the route pattern (bounded set), never the raw path.
  void http_request(const std::string& listener, const std::string& route,
                    const std::string& method, int status, double seconds);
  /// Open WebSocket connections of a listener (flashsale_ws_connections).
  prometheus::Gauge& websocket_connections(const std::string& listener);
  /// WebSocket clients closed because they did not keep up (flashsale_ws_slow_closes_total).
  prometheus::Counter& websocket_slow_closes(const std::string& listener);

 private:
  struct SampledGauge {
    std::string name;
    std::string help;
    prometheus::Labels labels;
    std::function<double()> read;
  };
  // The sampled gauges, one family per name, in the order they were added.
  [[nodiscard]] std::vector<prometheus::MetricFamily> collect_sampled() const;

  std::shared_ptr<prometheus::Registry> registry_;
  ProcessCollector process_;
  prometheus::Family<prometheus::Gauge>& plugin_info_;
  prometheus::Family<prometheus::Gauge>& plugin_health_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Gauge>& websockets_;
  prometheus::Family<prometheus::Counter>& slow_closes_;
  std::mutex mutex_;
  // Family::Add is slow; each label set is added once and its handle cached here.
  std::map<std::tuple<std::string, std::string, std::string, int>, prometheus::Counter*> counters_;
  std::map<std::pair<std::string, std::string>, prometheus::Histogram*> histograms_;
  mutable std::mutex sampled_mutex_;
  std::vector<SampledGauge> sampled_;
};

}  // namespace flashsale
