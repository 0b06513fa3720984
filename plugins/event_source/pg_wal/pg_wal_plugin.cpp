// event_source/pg_wal: reads the write-ahead log through a logical replication slot (pgoutput,
// protocol 1), turns committed row changes into domain events, publishes them to the host's
// event bus, and acknowledges to PostgreSQL only what every consumer has durably handled.
#include <poll.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <flashsale/pg.hpp>
#include <flashsale/sdk/event_source.hpp>
#include <mutex>
#include <regex>
#include <thread>

#include "event_mapper.hpp"
#include "pgoutput.hpp"

namespace flashsale::plugins {
namespace {

using Clock = std::chrono::steady_clock;
using pgwal::Lsn;

constexpr const char* kHeartbeatPrefix = "flashsale.heartbeat";
const char* const kEventTypes[] = {"order.waiting",     "order.reserved", "order.confirmed",
                                   "order.cancelled",   "order.expired",  "payment_link.ready",
                                   "inventory.changed", "item.created"};

std::int64_t now_unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Settings {
  std::string slot;  // empty: flashsale_<database>
  std::string publication = "flashsale_events";
  int status_interval_ms = 1000;
  int heartbeat_interval_ms = 5000;
};

Settings parse_settings(const nlohmann::json& config) {
  Settings s;
  static const std::regex name("[a-z0-9_]{1,63}");
  for (const auto& [key, value] : config.items()) {
    if (key == "slot" || key == "publication") {
      if (!value.is_string() || !std::regex_match(value.get<std::string>(), name)) {
        throw std::invalid_argument("plugin.pg_wal." + key + " must match [a-z0-9_]{1,63}");
      }
      (key == "slot" ? s.slot : s.publication) = value.get<std::string>();
    } else if (key == "status_interval_ms" || key == "heartbeat_interval_ms") {
      if (!value.is_number_integer() || value.get<long long>() < 0 ||
          value.get<long long>() > 60000) {
        throw std::invalid_argument("plugin.pg_wal." + key + " must be 0 to 60000");
      }
      (key == "status_interval_ms" ? s.status_interval_ms : s.heartbeat_interval_ms) =
          value.get<int>();
    } else {
      throw std::invalid_argument("unknown key plugin.pg_wal." + key);
    }
  }
  if (s.status_interval_ms == 0)
    throw std::invalid_argument("plugin.pg_wal.status_interval_ms must be > 0");
  return s;
}

std::string replication_url(const std::string& url) {
  const bool uri = url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0;
  if (!uri) return url + " replication=database";
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "replication=database";
}

// A failure that retrying cannot fix (an invalidated slot).
class Fatal : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace

class PgWalSource final : public sdk::EventSource {
 public:
  explicit PgWalSource(sdk::HostContext& host)
      : host_(host),
        settings_(parse_settings(host.config())),
        events_(prometheus::BuildCounter()
                    .Name("flashsale_cdc_events_total")
                    .Help("Domain events decoded from the write-ahead log, by type")
                    .Register(host.metrics())),
        lag_bytes_(prometheus::BuildGauge()
                       .Name("flashsale_cdc_lag_bytes")
                       .Help("Server WAL position minus the position acknowledged by consumers")
                       .Register(host.metrics())
                       .Add({})),
        lag_seconds_(prometheus::BuildGauge()
                         .Name("flashsale_cdc_lag_seconds")
                         .Help("Now minus the commit time of the last delivered transaction "
                               "(or heartbeat)")
                         .Register(host.metrics())
                         .Add({})),
        reconnects_(prometheus::BuildCounter()
                        .Name("flashsale_cdc_reconnects_total")
                        .Help("Replication connections re-established after a failure")
                        .Register(host.metrics())
                        .Add({})) {
    for (const char* type : kEventTypes) counters_[type] = &events_.Add({{"type", type}});
  }

  void start() override {
    pg::Connection sql(host_.database_url());
    if (settings_.slot.empty()) {
      std::string db(sql.exec("SELECT current_database()").get(0, 0));
      for (auto& c : db) c = std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_';
      settings_.slot = ("flashsale_" + db).substr(0, 63);
    }
    ensure_slot(sql);
    reader_ = std::thread([this] { run(); });
  }

  void stop() override {
    stopping_ = true;
    if (reader_.joinable()) reader_.join();
  }

  sdk::Health health() override {
    std::lock_guard lock(health_mutex_);
    return health_;
  }

 private:
  void set_health(bool ok, std::string detail) {
    std::lock_guard lock(health_mutex_);
    health_ = {ok, std::move(detail)};
  }

  void ensure_slot(pg::Connection& sql) {
    const auto rows = sql.exec("SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1",
                               {settings_.slot});
    if (rows.rows() == 0) {
      try {
        sql.exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", {settings_.slot});
        host_.log(sdk::LogLevel::info, "created replication slot " + settings_.slot);
      } catch (const pg::Error& e) {
        if (e.sqlstate() != "42710") throw;  // created meanwhile by another instance: fine
      }
    } else if (rows.get(0, 0) == "lost") {
      throw Fatal("replication slot " + settings_.slot +
                  " was invalidated (it fell behind max_slot_wal_keep_size): events were lost; "
                  "see docs/operations.md, \"Event source: invalidated slot\"");
    }
  }

  void run() {
    auto pause = std::chrono::milliseconds(100);
    bool first = true;
    while (!stopping_) {
      try {
        if (!first) reconnects_.Increment();
        first = false;
        stream();
        pause = std::chrono::milliseconds(100);
      } catch (const Fatal& e) {
        host_.log(sdk::LogLevel::error, e.what());
        set_health(false, e.what());
        return;
      } catch (const std::exception& e) {
        host_.log(sdk::LogLevel::warn, std::string("replication stream lost, reconnecting in ") +
                                           std::to_string(pause.count()) + " ms: " + e.what());
        set_health(false, std::string("reconnecting: ") + e.what());
      }
      for (auto waited = std::chrono::milliseconds(0); waited < pause && !stopping_;
           waited += std::chrono::milliseconds(50)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      pause = std::min(pause * 2, std::chrono::milliseconds(5000));
    }
  }

  // One replication session, from the acknowledged position until an error or stop().
  void stream() {
    sdk::EventSink& sink = host_.event_sink();
    pg::Connection sql(host_.database_url());
    ensure_slot(sql);
    const Lsn resume = sink.acknowledged();
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn(
        PQconnectdb(replication_url(pg::with_keepalives(host_.database_url())).c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      throw std::runtime_error(std::string("replication connection: ") +
                               PQerrorMessage(conn.get()));
    }
    const std::string start = "START_REPLICATION SLOT \"" + settings_.slot + "\" LOGICAL " +
                              pgwal::format_lsn(resume) + " (\"proto_version\" '1', " +
                              "\"publication_names\" '" + settings_.publication +
                              "', \"messages\" 'true')";
    {
      std::unique_ptr<PGresult, void (*)(PGresult*)> res(PQexec(conn.get(), start.c_str()),
                                                         &PQclear);
      if (PQresultStatus(res.get()) != PGRES_COPY_BOTH) {
        const std::string message = PQerrorMessage(conn.get());
        if (message.find("invalidated") != std::string::npos) throw Fatal(message);
        throw std::runtime_error("START_REPLICATION: " + message);
      }
    }
    // Someone else moving the slot past where we stopped would silently skip events.
    const auto slot = sql.exec(
        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
        "WHERE slot_name = $1",
        {settings_.slot});
    const auto confirmed = slot.rows() ? pgwal::parse_lsn(slot.get(0, 0)) : std::nullopt;
    if (resume != 0 && confirmed && *confirmed > resume) {
      host_.log(sdk::LogLevel::error,
                "replication slot " + settings_.slot + " jumped from " + pgwal::format_lsn(resume) +
                    " to " + pgwal::format_lsn(*confirmed) + ": events in between were lost");
    }
    host_.log(sdk::LogLevel::info, "streaming slot " + settings_.slot + " from " +
                                       pgwal::format_lsn(resume ? resume : confirmed.value_or(0)));
    set_health(true, "streaming from slot " + settings_.slot);

    pgwal::EventMapper mapper;
    Lsn received = resume;
    Lsn server_end = 0;
    Lsn flushed = resume;
    auto last_status = Clock::now();
    auto last_heartbeat = Clock::now();

    auto send_status = [&](bool reply) {
      Lsn ack = sink.acknowledged();
      // Nothing in flight: everything the server has sent is handled, including the WAL of
      // tables we do not publish, so the slot may move on (otherwise WAL piles up when idle).
      if (sink.idle() && !mapper.in_transaction()) ack = std::max(ack, server_end);
      flushed = std::max(flushed, ack);
      const std::string msg = pgwal::status_update(std::max(received, flushed), flushed, flushed,
                                                   pgwal::unix_to_pg_us(now_unix_us()), reply);
      if (PQputCopyData(conn.get(), msg.data(), static_cast<int>(msg.size())) != 1 ||
          PQflush(conn.get()) != 0) {
        throw std::runtime_error(std::string("status update: ") + PQerrorMessage(conn.get()));
      }
      lag_bytes_.Set(static_cast<double>(server_end > flushed ? server_end - flushed : 0));
      last_status = Clock::now();
    };

    while (!stopping_) {
      char* raw = nullptr;
      const int n = PQgetCopyData(conn.get(), &raw, 1);
      if (n == 0) {
        pollfd pfd{PQsocket(conn.get()), POLLIN, 0};
        ::poll(&pfd, 1, 50);
        if (PQconsumeInput(conn.get()) == 0) {
          throw std::runtime_error(std::string("replication read: ") + PQerrorMessage(conn.get()));
        }
      } else if (n == -1) {
        throw std::runtime_error("the server ended the replication stream");
      } else if (n < 0) {
        throw std::runtime_error(std::string("replication read: ") + PQerrorMessage(conn.get()));
      } else {
        std::unique_ptr<char, void (*)(void*)> buffer(raw, &PQfreemem);
        const auto frame = pgwal::parse_copy_data(std::string_view(raw, static_cast<size_t>(n)));
        if (const auto* k = std::get_if<pgwal::Keepalive>(&frame)) {
          server_end = std::max(server_end, k->wal_end);
          received = std::max(received, k->wal_end);
          if (k->reply_requested) send_status(false);
        } else {
          const auto& x = std::get<pgwal::XLogData>(frame);
          received = std::max(received, x.data_start);
          const auto message = pgwal::decode(x.payload);
          if (const auto* m = std::get_if<pgwal::LogicalMessage>(&message);
              m && m->prefix == kHeartbeatPrefix) {
            try {
              lag_seconds_.Set(static_cast<double>(now_unix_us() - std::stoll(m->content)) / 1e6);
            } catch (const std::exception&) {
            }
          }
          if (auto batch = mapper.feed(message)) {
            for (const auto& e : batch->events) {
              if (auto it = counters_.find(e.type); it != counters_.end()) it->second->Increment();
            }
            lag_seconds_.Set(static_cast<double>(now_unix_us() - batch->commit_unix_us) / 1e6);
            sink.publish(std::move(*batch));  // blocks while a consumer is far behind
          }
        }
      }
      const auto now = Clock::now();
      if (now - last_status >= std::chrono::milliseconds(settings_.status_interval_ms)) {
        send_status(false);
      }
      if (settings_.heartbeat_interval_ms > 0 &&
          now - last_heartbeat >= std::chrono::milliseconds(settings_.heartbeat_interval_ms)) {
        sql.exec("SELECT pg_logical_emit_message(false, $1, $2)",
                 {kHeartbeatPrefix, std::to_string(now_unix_us())});
        last_heartbeat = now;
      }
    }
    send_status(false);
    PQputCopyEnd(conn.get(), nullptr);
    PQflush(conn.get());
  }

  sdk::HostContext& host_;
  Settings settings_;
  prometheus::Family<prometheus::Counter>& events_;
  std::map<std::string, prometheus::Counter*> counters_;
  prometheus::Gauge& lag_bytes_;
  prometheus::Gauge& lag_seconds_;
  prometheus::Counter& reconnects_;
  std::atomic<bool> stopping_{false};
  std::thread reader_;
  std::mutex health_mutex_;
  sdk::Health health_{false, "not started"};
};

}  // namespace flashsale::plugins

FLASHSALE_PLUGIN(flashsale::plugins::PgWalSource, "pg_wal", "0.1.0")
