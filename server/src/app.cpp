// See app.hpp. Start-up order: database (embedded if none configured), plugins, their migrations,
// listeners. Shutdown runs it backwards after the listeners drain.
#include "app.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <optional>
#include <thread>

#include "api/admin_api.hpp"
#include "api/admin_stream.hpp"
#include "api/ops_routes.hpp"
#include "api/public_api.hpp"
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
void drain(net::io_context& io, std::shared_ptr<net::steady_timer> timer,
           std::vector<http::Server*> servers, std::chrono::steady_clock::time_point deadline) {
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

}  // namespace

int serve(const Config& config) {
  log::set_level(config.log_level);
  log::info(std::string("flashsale ") + kVersion + " starting");
  if (config.webhook_secret.empty()) {
    log::warn(
        "payments.webhook_secret is empty: payment callbacks are not authenticated, so "
        "anyone who reaches the public listener can confirm orders");
  }
  // Signals are caught from here on; they take effect once the loop runs.
  net::io_context io(config.http_threads);
  net::signal_set signals(io, SIGINT, SIGTERM);

  Database db(config);
  Metrics metrics;
  EventBus events(kEventQueueLimit);
  PluginHost plugins(config, db.url, metrics, events);
  plugins.load_all();
  plugins.migrate_all();  // each plugin brings its own tables up to date
  WorkerPool workers(config.worker_threads, config.worker_queue_limit);
  sdk::Storage& storage = plugins.storage();
  sdk::Scheduler* scheduler = plugins.scheduler();

  http::Router public_routes;
  http::Router admin_routes;
  // Bound now, accepting only once every route and plugin is in place.
  http::Server public_server(io,
                             {"public", config.http_listen, config.max_connections,
                              config.read_timeout, config.websocket_idle_timeout},
                             public_routes, metrics);
  http::Server admin_server(io,
                            {"admin", config.admin_listen, config.max_connections,
                             config.read_timeout, config.websocket_idle_timeout},
                            admin_routes, metrics);

  for (auto* router : {&public_routes, &admin_routes}) {
    api::add_ops_routes(*router, plugins, workers, metrics);
  }
  api::add_plugin_routes(admin_routes, plugins, workers);
  api::add_public_routes(public_routes, storage, scheduler, workers,
                         {config.identity_header, config.webhook_secret});
  api::add_admin_routes(admin_routes, storage, scheduler, workers);
  const auto admin_stream = std::make_shared<api::AdminStream>(storage, workers);
  events.subscribe({}, admin_stream);
  api::add_admin_stream_route(admin_routes, admin_stream);

  std::string provider_url = config.payment_provider_url;
  if (provider_url.empty()) {
    payments::add_fake_provider_routes(admin_routes);
    const std::string& listen = config.admin_listen.host;
    const std::string host = listen == "0.0.0.0" || listen == "::"   ? "127.0.0.1"
                             : listen.find(':') != std::string::npos ? "[" + listen + "]"
                                                                     : listen;
    provider_url = "http://" + host + ":" + std::to_string(admin_server.port()) + "/fake-payments";
    log::info("payments: using the built-in fake provider at " + provider_url);
  }
  const payments::Provider provider(provider_url, config.payment_provider_timeout);
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
  push::route_push(events, plugins.push_channels(), storage, scheduler, config.push_timeout,
                   metrics.registry());
  api::add_user_streams(public_routes, plugins.user_streams(), config.identity_header);
  plugins.start_all();  // the event source last: every consumer is subscribed by now

  public_server.start();
  admin_server.start();
  log::info("listening: public http://" + config.http_listen.host + ":" +
            std::to_string(public_server.port()) + ", admin http://" + config.admin_listen.host +
            ":" + std::to_string(admin_server.port()));

  bool shutting_down = false;
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int signo) {
    if (ec) return;
    if (shutting_down) {
      log::warn("second signal: exiting now");
      if (db.embedded) db.embedded->kill_now();
      std::_Exit(kExitFailure);
    }
    shutting_down = true;
    log::info(std::string("received ") + (signo == SIGINT ? "SIGINT" : "SIGTERM") +
              ": draining (a second signal exits at once)");
    signals.async_wait(on_signal);
    public_server.begin_shutdown();
    admin_server.begin_shutdown();
    drain(io, std::make_shared<net::steady_timer>(io), {&public_server, &admin_server},
          std::chrono::steady_clock::now() + config.shutdown_grace);
  };
  signals.async_wait(on_signal);

  std::vector<std::thread> threads;
  for (int i = 1; i < config.http_threads; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();

  log::info("listeners drained; stopping plugins");
  workers.stop();
  plugins.stop_all();
  events.stop();
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
