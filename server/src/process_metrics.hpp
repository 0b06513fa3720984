// The standard process metrics of Prometheus' client libraries (process_cpu_seconds_total,
// process_resident_memory_bytes, ...), read from /proc at each scrape as those libraries do:
// prometheus-cpp has no process collector.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

namespace flashsale {

class ProcessCollector final : public prometheus::Collectable {
 public:
  ProcessCollector();
  /// Reads /proc/self/stat, /proc/self/fd and the descriptor limit; a file it cannot read leaves
  /// its metrics out of this scrape.
  [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  double start_time_seconds_ = 0;  // since the Unix epoch; 0 if /proc did not say
};

}  // namespace flashsale
