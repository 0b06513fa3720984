// See process_metrics.hpp.
#include "process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace flashsale {
namespace {

// The fields of /proc/self/stat, numbered as in proc(5) (1 is the pid), or none if it cannot be
// read. The command name (field 2) may hold spaces and parentheses: the split starts after its
// last ')'.
class Stat {
 public:
  Stat() {
    std::ifstream in("/proc/self/stat");
    std::string line;
    std::getline(in, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) return;
    std::istringstream rest(line.substr(close + 1));
    for (std::string f; rest >> f;) fields_.push_back(f);
  }
  [[nodiscard]] bool read() const { return fields_.size() >= 22; }  // up to field 24, rss
  [[nodiscard]] double field(std::size_t n) const { return std::stod(fields_.at(n - 3)); }

 private:
  std::vector<std::string> fields_;
};

// The boot time (the "btime" line of /proc/stat), in seconds since the Unix epoch.
std::optional<double> boot_time() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return std::nullopt;
}

// Entries of /proc/self/fd, but the one the listing itself holds open.
std::optional<double> open_fds() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  double entries = 0;
  for (const std::filesystem::directory_iterator end; !ec && it != end; it.increment(ec)) {
    ++entries;
  }
  if (ec) return std::nullopt;
  return entries - 1;
}

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return {name, help, type, {metric}};
}

}  // namespace

ProcessCollector::ProcessCollector() {
  const Stat stat;
  const auto boot = boot_time();
  if (stat.read() && boot) {
    start_time_seconds_ = *boot + stat.field(22) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const Stat stat;
  if (stat.read()) {
    const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    families.push_back(family("process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.",
                              MetricType::Counter, (stat.field(14) + stat.field(15)) / ticks));
    families.push_back(family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                              MetricType::Gauge, stat.field(23)));
    families.push_back(family("process_resident_memory_bytes", "Resident memory size in bytes.",
                              MetricType::Gauge,
                              stat.field(24) * static_cast<double>(sysconf(_SC_PAGESIZE))));
  }
  if (const auto fds = open_fds()) {
    families.push_back(
        family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *fds));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(family("process_max_fds", "Maximum number of open file descriptors.",
                              MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  if (start_time_seconds_ > 0) {
    families.push_back(family("process_start_time_seconds",
                              "Start time of the process since unix epoch in seconds.",
                              MetricType::Gauge, start_time_seconds_));
  }
  return families;
}

}  // namespace flashsale
