// See app.hpp. Start-up order: database (embedded if none configured), plugins, their migrations,
// routes and event consumers, plugins started (the event source last), listeners. Shutdown
// drains the listeners, then stops in phases (stop_in_phases).
#include "app.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <csignal>
#include <flashsale/sdk/event_source.hpp>
#include <flashsale/sdk/event_stream.hpp>
#include <flashsale/sdk/threads.hpp>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "api/admin_api.hpp"
#include "api/admin_stream.hpp"
#include "api/ops_routes.hpp"
#include "api/public_api.hpp"
#include "descriptors.hpp"
#include "embedded_postgres.hpp"
#include "event_bus.hpp"
#include "http/server.hpp"
#include "jobs/handlers.hpp"
#include "jobs/planner.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "payments/fake_provider.hpp"
#include "payments/provider.hpp"
#include "plugin_host.hpp"
#include "push/channel_feed.hpp"
#include "version.hpp"
#include "worker_pool.hpp"

namespace flashsale {
namespace net = boost::asio;
namespace {

// Transactions a slow event consumer may fall behind before the event source waits for it.
constexpr std::size_t kEventQueueLimit = 1024;

// The database: the configured one, or the embedded cluster (kept running while it lives).
struct Database {
  std::optional<EmbeddedPostgres> embedded;
  std::string url;

  explicit Database(const Config& config) {
    if (!config.database_url.empty()) {
      url = config.database_url;
      return;
    }
    embedded.emplace(EmbeddedPostgres::Options{config.embedded_dir, config.pg_bin_dir});
    url = embedded->url();
  }
};

// Waits until every listener has drained or the grace period is over, then stops the loop.
void drain(net::io_context& io, const std::shared_ptr<net::steady_timer>& timer,
           const std::vector<http::Server*>& servers,
           std::chrono::steady_clock::time_point deadline) {
  std::size_t open = 0;
  for (auto* s : servers) open += s->connections();
  if (open == 0 || std::chrono::steady_clock::now() >= deadline) {
    if (open > 0)
      log::warn("grace period over: closing " + std::to_string(open) + " connection(s)");
    io.stop();
    return;
  }
  timer->expires_after(std::chrono::milliseconds(20));
  timer->async_wait([&io, timer, servers, deadline](boost::system::error_code) {
    drain(io, timer, servers, deadline);
  });
}

// The payment provider the jobs call: the configured one, or the built-in fake on the admin
// listener.
std::string provider_url(const Config& config, http::Router& admin_routes,
                         const http::Server& admin_server) {
  if (!config.payment_provider_url.empty()) return config.payment_provider_url;
  payments::add_fake_provider_routes(admin_routes);
  const std::string& listen = config.admin_listen.host;
  const std::string host = listen == "0.0.0.0" || listen == "::"   ? "127.0.0.1"
                           : listen.find(':') != std::string::npos ? "[" + listen + "]"
                                                                   : listen;
  std::string url = "http://" + host + ":" + std::to_string(admin_server.port()) + "/fake-payments";
  log::info("payments: using the built-in fake provider at " + url);
  return url;
}

// Past this much more than the grace period, a shutdown that has not finished exits anyway:
// whatever was not handled was never acknowledged, so it comes again after a restart.
constexpr auto kStopBudget = std::chrono::seconds(5);
// How long the event consumers may take for what is queued, at most, once the source stopped.
constexpr auto kDrainBudget = std::chrono::seconds(2);

// Ends the process if a shutdown has not finished by a deadline: a plugin that does not stop
// must not keep it alive. Disarmed when destroyed.
class Watchdog {
 public:
  explicit Watchdog(std::function<void()> on_expiry) : on_expiry_(std::move(on_expiry)) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      disarmed_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void arm(std::chrono::steady_clock::time_point deadline) {
    thread_ = std::thread([this, deadline] {
      sdk::name_this_thread("stop-watchdog");
      std::unique_lock lock(mutex_);
      if (!changed_.wait_until(lock, deadline, [this] { return disarmed_; })) on_expiry_();
    });
  }

 private:
  std::function<void()> on_expiry_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool disarmed_ = false;
  std::thread thread_;
};

// How often flashsale_plugin_health is refreshed.
constexpr auto kHealthInterval = std::chrono::seconds(1);

// Checks every plugin's health at once and then every kHealthInterval, on its own thread (a
// check may wait for the database), into flashsale_plugin_health, so /metrics answers from
// memory. stop() waits for a check in progress.
class HealthGauges {
 public:
  HealthGauges(const PluginHost& plugins, Metrics& metrics) {
    thread_ = std::thread([this, &plugins, &metrics] {
      sdk::name_this_thread("plugin-health");
      std::unique_lock lock(mutex_);
      do {
        lock.unlock();
        for (const auto& h : plugins.health()) metrics.plugin_health(h.name, h.kind, h.ok);
        lock.lock();
      } while (!changed_.wait_for(lock, kHealthInterval, [this] { return stopping_; }));
    });
  }
  ~HealthGauges() { stop(); }
  HealthGauges(const HealthGauges&) = delete;
  HealthGauges& operator=(const HealthGauges&) = delete;

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::thread thread_;
};

// On the CDC leader, appends what the log yields to the event stream; the log position moves
// only past what the stream acknowledged.
class StreamAppender final : public sdk::EventConsumer {
 public:
  explicit StreamAppender(sdk::EventStream& stream) : stream_(stream) {}
  [[nodiscard]] std::string name() const override { return "event_stream"; }
  void handle(const sdk::EventBatch& batch) override { stream_.append(batch); }

 private:
  sdk::EventStream& stream_;
};

// Shutdown after the listeners drained, in phases, so nothing waits on what already stopped:
// the event buses take nothing more (a source blocked on a full bus wakes up), the source stops,
// the consumers of the log handle what is queued for a moment and stop, then the event stream
// and the consumers of what it delivered, the scheduler (its handlers call storage), the push
// channels, the worker pool, and storage last (everyone calls it).
void stop_in_phases(EventBus& events, EventBus& delivered, PluginHost& plugins, WorkerPool& workers,
                    std::chrono::steady_clock::time_point deadline) {
  events.close();
  delivered.close();
  plugins.stop(sdk::EventSource::kKind);
  const auto drain_until = std::min(deadline, std::chrono::steady_clock::now() + kDrainBudget);
  events.stop(drain_until);
  plugins.stop(sdk::EventStream::kKind);
  delivered.stop(drain_until);
  plugins.stop(sdk::Scheduler::kKind);
  plugins.stop(sdk::PushChannel::kKind);
  workers.stop();
  plugins.stop_all();
}

}  // namespace

int serve(const Config& config) {
  log::set_level(config.log_level);
  log::set_node(config.node_id);
  log::info(std::string("flashsale ") + kVersion + " starting as node " + config.node_id);
  if (config.webhook_secret.empty()) {
    log::warn(
        "payments.webhook_secret is empty: payment callbacks are not authenticated, so "
        "anyone who reaches the public listener can confirm orders");
  }
  // Before anything opens a descriptor: the database pools, plugins and listeners all need them.
  const ConnectionCaps caps = fit_connections_to_descriptors(config.max_connections);
  // Signals are caught from here on; they take effect once the loop runs.
  net::io_context io(config.http_threads);
  net::signal_set signals(io, SIGINT, SIGTERM);

  Database db(config);
  Metrics metrics;
  EventBus events(kEventQueueLimit);  // what the log yields, on the CDC leader
  // What the event stream delivers, on every replica; the stream never repeats itself, but a
  // transaction cut by a leader's death comes in two parts (the rest from the next leader).
  EventBus streamed(kEventQueueLimit, EventBus::Late::delivered);
  PluginHost plugins(config, db.url, metrics, events);
  plugins.load_all();
  plugins.migrate_all();  // each plugin brings its own tables up to date
  // With an event stream, what this replica's clients see comes from it; without one, from the
  // log (so only the leader's clients get events).
  sdk::EventStream* stream = plugins.event_stream();
  EventBus& delivered = stream ? streamed : events;
  if (stream) {
    events.subscribe({}, std::make_shared<StreamAppender>(*stream));
    stream->follow(streamed);
  }
  WorkerPool workers(config.worker_threads, config.worker_queue_limit);
  api::PlacementRates placement_rates;                           // per item, for the dashboard
  const auto activity = std::make_shared<api::ActivityRates>();  // per item, for the dashboard
  sdk::Storage& storage = plugins.storage();
  sdk::Scheduler* scheduler = plugins.scheduler();

  http::Router public_routes;
  http::Router admin_routes;
  // Bound now, accepting only once every route and plugin is in place.
  http::Server public_server(
      io,
      {"public", config.http_listen, caps.public_max, config.read_timeout,
       config.websocket_idle_timeout, config.access_log, config.identity_header},
      public_routes, metrics);
  http::Server admin_server(
      io,
      {"admin", config.admin_listen, caps.admin_max, config.read_timeout,
       config.websocket_idle_timeout, config.access_log, config.identity_header},
      admin_routes, metrics);

  // Read at each scrape: how near the listeners and the worker queue are to `overloaded`.
  for (const auto& [listener, server, cap] : {std::tuple{"public", &public_server, caps.public_max},
                                              std::tuple{"admin", &admin_server, caps.admin_max}}) {
    metrics.add_sampled_gauge(
        "flashsale_http_connections", "Open connections (WebSockets included), by listener",
        {{"listener", listener}}, [s = server] { return static_cast<double>(s->connections()); });
    metrics.add_sampled_gauge("flashsale_http_max_connections",
                              "Open connections past which a listener answers 503 overloaded",
                              {{"listener", listener}},
                              [c = cap] { return static_cast<double>(c); });
  }
  metrics.add_sampled_gauge("flashsale_worker_queue_length",
                            "Blocking tasks waiting for a worker thread", {},
                            [&workers] { return static_cast<double>(workers.queued()); });
  metrics.add_sampled_gauge(
      "flashsale_worker_queue_limit",
      "Waiting blocking tasks past which requests get 503 overloaded", {},
      [limit = config.worker_queue_limit] { return static_cast<double>(limit); });

  api::add_ops_routes(public_routes, plugins, workers, metrics, api::Audience::public_clients);
  api::add_ops_routes(admin_routes, plugins, workers, metrics, api::Audience::operators);
  api::add_plugin_routes(admin_routes, plugins, workers, config.node_id);
  api::add_public_routes(public_routes, storage, scheduler, workers, placement_rates,
                         {config.identity_header, config.webhook_secret});
  api::add_admin_routes(admin_routes, storage, scheduler, workers, placement_rates, *activity);
  delivered.subscribe(api::ActivityRates::event_types(), activity);
  const auto admin_stream = std::make_shared<api::AdminStream>(storage, workers);
  delivered.subscribe({}, admin_stream);
  api::add_admin_stream_route(admin_routes, admin_stream);

  const payments::Provider provider(provider_url(config, admin_routes, admin_server),
                                    config.payment_provider_timeout);
  if (scheduler) {
    jobs::register_handlers(*scheduler, storage, provider, metrics.registry());
    events.subscribe(jobs::planned_event_types(), std::make_shared<jobs::Planner>(*scheduler));
  } else {
    log::warn(
        "no scheduler plugin: leases expire only when their item is next touched, and no "
        "payment links, refunds or sale closings happen");
  }
  // Push channels start first: only those that started get notifications and routes (an
  // optional one that fails is left out), and the scheduler must know the push job's handler
  // before it starts.
  plugins.start(sdk::PushChannel::kKind);
  push::route_push({events, delivered}, plugins.push_channels(), storage, scheduler,
                   config.push_timeout, metrics.registry());
  api::add_user_streams(public_routes, plugins.user_streams(), config.identity_header);
  plugins.start_all();  // the event source last: every consumer is subscribed by now
  HealthGauges health_gauges(plugins, metrics);

  public_server.start();
  admin_server.start();
  log::info("listening: public http://" + config.http_listen.host + ":" +
            std::to_string(public_server.port()) + ", admin http://" + config.admin_listen.host +
            ":" + std::to_string(admin_server.port()));

  std::optional<std::chrono::steady_clock::time_point> deadline;  // set by the first signal
  Watchdog watchdog([&db] {
    log::error("shutdown did not finish in shutdown.grace_ms + 5 s: exiting now");
    if (db.embedded) db.embedded->kill_now();
    std::_Exit(kExitFailure);
  });
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int signo) {
    if (ec) return;
    if (deadline) {
      log::warn("second signal: exiting now");
      if (db.embedded) db.embedded->kill_now();
      std::_Exit(kExitFailure);
    }
    deadline = std::chrono::steady_clock::now() + config.shutdown_grace;
    log::info(std::string("received ") + (signo == SIGINT ? "SIGINT" : "SIGTERM") +
              ": draining (a second signal exits at once)");
    signals.async_wait(on_signal);
    watchdog.arm(*deadline + kStopBudget);
    public_server.begin_shutdown();
    admin_server.begin_shutdown();
    drain(io, std::make_shared<net::steady_timer>(io), {&public_server, &admin_server}, *deadline);
  };
  signals.async_wait(on_signal);

  std::vector<std::thread> threads;
  for (int i = 1; i < config.http_threads; ++i) {
    threads.emplace_back([&io, i] {
      sdk::name_this_thread("http-" + std::to_string(i));
      io.run();
    });
  }
  sdk::name_this_thread("http-0");
  io.run();
  for (auto& t : threads) t.join();

  log::info("listeners drained; stopping the event pipeline, then the plugins");
  health_gauges.stop();
  stop_in_phases(events, streamed, plugins, workers,
                 deadline.value_or(std::chrono::steady_clock::now()));
  log::info("stopped");
  return kExitOk;
}

int migrate(const Config& config) {
  log::set_level(config.log_level);
  Database db(config);
  Metrics metrics;
  EventBus events(1);
  PluginHost plugins(config, db.url, metrics, events);
  plugins.load_all();
  plugins.migrate_all();
  return kExitOk;
}

}  // namespace flashsale
