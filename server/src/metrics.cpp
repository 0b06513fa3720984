// See metrics.hpp.
#include "metrics.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "version.hpp"

namespace flashsale {

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      plugin_info_(prometheus::BuildGauge()
                       .Name("flashsale_plugin_info")
                       .Help("Loaded plugins (value 1), by name, kind and version")
                       .Register(*registry_)),
      plugin_health_(prometheus::BuildGauge()
                         .Name("flashsale_plugin_health")
                         .Help("Latest health check of each loaded plugin (1 ok, 0 not), checked "
                               "every second")
                         .Register(*registry_)),
      requests_(prometheus::BuildCounter()
                    .Name("flashsale_http_requests_total")
                    .Help("HTTP requests answered, by listener, route, method and status code")
                    .Register(*registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("flashsale_http_request_duration_seconds")
                   .Help("Time from a request's last byte read to its answer, by route")
                   .Register(*registry_)),
      websockets_(prometheus::BuildGauge()
                      .Name("flashsale_ws_connections")
                      .Help("Open WebSocket connections, by listener (public: /v1/stream)")
                      .Register(*registry_)),
      slow_closes_(prometheus::BuildCounter()
                       .Name("flashsale_ws_slow_closes_total")
                       .Help("WebSocket clients closed because their queue stayed full (they did "
                             "not read fast enough), by listener")
                       .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("flashsale_build_info")
      .Help("Build of the running service (value 1)")
      .Register(*registry_)
      .Add({{"version", kVersion}, {"revision", kRevision}, {"sdk_abi", std::to_string(kSdkAbi)}})
      .Set(1);
}

std::string Metrics::serialize() const {
  auto families = registry_->Collect();
  for (auto& f : process_.Collect()) families.push_back(std::move(f));
  for (auto& f : collect_sampled()) families.push_back(std::move(f));
  return prometheus::TextSerializer{}.Serialize(families);
}

void Metrics::add_sampled_gauge(const std::string& name, const std::string& help,
                                const prometheus::Labels& labels, std::function<double()> read) {
  std::lock_guard lock(sampled_mutex_);
  sampled_.push_back({name, help, labels, std::move(read)});
}

std::vector<prometheus::MetricFamily> Metrics::collect_sampled() const {
  std::vector<prometheus::MetricFamily> families;
  std::lock_guard lock(sampled_mutex_);
  for (const auto& g : sampled_) {
    auto family = std::find_if(families.begin(), families.end(),
                               [&](const prometheus::MetricFamily& f) { return f.name == g.name; });
    if (family == families.end()) {
      families.push_back({g.name, g.help, prometheus::MetricType::Gauge, {}});
      family = std::prev(families.end());
    }
    prometheus::ClientMetric metric;
    for (const auto& [name, value] : g.labels) metric.label.push_back({name, value});
    metric.gauge.value = g.read();
    family->metric.push_back(std::move(metric));
  }
  return families;
}

prometheus::Gauge& Metrics::websocket_connections(const std::string& listener) {
  std::lock_guard lock(mutex_);
  return websockets_.Add({{"listener", listener}});
}

prometheus::Counter& Metrics::websocket_slow_closes(const std::string& listener) {
  std::lock_guard lock(mutex_);
  return slow_closes_.Add({{"listener", listener}});
}

void Metrics::plugin_loaded(const std::string& name, const std::string& kind,
                            const std::string& version) {
  plugin_info_.Add({{"name", name}, {"kind", kind}, {"version", version}}).Set(1);
}

void Metrics::plugin_health(const std::string& name, const std::string& kind, bool ok) {
  plugin_health_.Add({{"name", name}, {"kind", kind}}).Set(ok ? 1 : 0);
}

void Metrics::http_request(const std::string& listener, const std::string& route,
                           const std::string& raw_method, int status, double seconds) {
  // Clients choose the method token: only known ones become label values.
  static const std::set<std::string> known = {"GET",    "POST", "PUT",    "PATCH",
                                              "DELETE", "HEAD", "OPTIONS"};
  const std::string method = known.count(raw_method) ? raw_method : "other";
  prometheus::Counter* counter = nullptr;
  prometheus::Histogram* histogram = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto& c = counters_[{listener, route, method, status}];
    if (c == nullptr) {
      c = &requests_.Add({{"listener", listener},
                          {"route", route},
                          {"method", method},
                          {"code", std::to_string(status)}});
    }
    auto& h = histograms_[{listener, route}];
    if (h == nullptr) {
      h = &latency_.Add(
          {{"listener", listener}, {"route", route}},
          prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1, 0.25, 0.5, 1, 2.5});
    }
    counter = c;
    histogram = h;
  }
  counter->Increment();
  histogram->Observe(seconds);
}

}  // namespace flashsale
