// The worker the kill test kills: loads the pg_queue plugin through the real loader (with a 60 s
// visibility timeout, which the test must not wait for), and its handler of `crashy` makes the
// job's effect, then hangs until the process gets SIGKILL.
// Usage: pg_queue_crash_worker <database-url> <plugins-dir>
#include <unistd.h>

#include <chrono>
#include <flashsale/sdk/scheduler.hpp>
#include <iostream>
#include <thread>

#include "event_bus.hpp"
#include "job_effect.hpp"
#include "metrics.hpp"
#include "plugin_host.hpp"

using namespace flashsale;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: pg_queue_crash_worker <database-url> <plugins-dir>\n";
    return 2;
  }
  const std::string url = argv[1];
  Config config = load_config(std::nullopt, {});
  config.plugins_dir = argv[2];
  config.tree["plugin"]["pg_queue"] = {
      {"threads", 1}, {"visibility_timeout_s", 60}, {"poll_interval_ms", 50}};
  Metrics metrics;
  EventBus bus(16);
  PluginHost host(config, url, metrics, bus);
  auto* scheduler =
      dynamic_cast<sdk::Scheduler*>(host.load({"flashsale_scheduler_pg_queue", true}).object.get());
  if (scheduler == nullptr) return 3;
  pg::Connection effects(url);
  scheduler->on("crashy", [&effects](const sdk::Job& job) -> sdk::JobOutcome {
    test::apply_effect(effects, job, "crash_worker");
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));  // until SIGKILL
  });
  host.start_all();
  for (;;) pause();
}
