// event_source/pg_wal: reads the write-ahead log through a logical replication slot (pgoutput,
// protocol 1), turns committed row changes into domain events, publishes them to the host's
// event bus, and acknowledges to PostgreSQL only what every consumer has durably handled.
// It decodes the tables of the storage plugin "postgres" (its descriptor says so: the host
// refuses pg_wal without it and migrates postgres's tables before pg_wal's publication).
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <flashsale/pg/connection.hpp>
#include <flashsale/pg/migrations.hpp>
#include <flashsale/pg/replication.hpp>
#include <flashsale/sdk/event_source.hpp>
#include <flashsale/sdk/event_types.hpp>
#include <flashsale/sdk/settings.hpp>
#include <flashsale/sdk/threads.hpp>
#include <mutex>
#include <thread>

#include "event_mapper.hpp"
#include "pgoutput.hpp"

namespace flashsale::plugins::pg_wal {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kHeartbeatPrefix = "flashsale.heartbeat";
constexpr milliseconds kReadWait{50};  // longest wait for a frame before the timers are looked at

struct Settings {
  std::string slot;  // empty: flashsale_<database>
  std::string publication = "flashsale_events";
  int status_interval_ms = 1000;
  int heartbeat_interval_ms = 5000;
};

Settings parse_settings(const sdk::HostContext& host) {
  sdk::Settings in(host);
  const auto name = sdk::Settings::matching("[a-z0-9_]{1,63}");
  Settings s;
  s.slot = in.text("slot", s.slot, name);
  s.publication = in.text("publication", s.publication, name);
  s.status_interval_ms = in.integer("status_interval_ms", s.status_interval_ms, 1, 60000);
  s.heartbeat_interval_ms = in.integer("heartbeat_interval_ms", s.heartbeat_interval_ms, 0, 60000);
  in.done();
  return s;
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
        settings_(parse_settings(host)),
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
    for (const auto type : sdk::event_type::kAll) {
      counters_[std::string(type)] = &events_.Add({{"type", std::string(type)}});
    }
  }

  void migrate() override {
    pg::migrate(host_.database_url(), pg::embedded::schema(),
                [this](const std::string& line) { host_.log(sdk::LogLevel::info, line); });
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
  // What one replication session knows of the stream.
  struct Session {
    pg::ReplicationConnection conn;
    EventMapper mapper;
    Lsn received = 0;    // the furthest position the server sent
    Lsn server_end = 0;  // the server's WAL end, from its keepalives
    Lsn flushed = 0;     // the position acknowledged to the server
    Clock::time_point last_status = Clock::now();
    Clock::time_point last_heartbeat = Clock::now();
  };

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
        if (!e.is_duplicate_object()) throw;  // made meanwhile by another instance: fine
      }
    } else if (rows.get(0, 0) == "lost") {
      throw Fatal("replication slot " + settings_.slot +
                  " was invalidated (it fell behind max_slot_wal_keep_size): events were lost; "
                  "see docs/operations.md, \"Event source: invalidated slot\"");
    }
  }

  // Reconnects after a lost session, waiting longer each time (up to 5 s).
  void run() {
    sdk::name_this_thread("pg_wal-reader");
    auto pause = milliseconds(100);
    bool first = true;
    while (!stopping_) {
      try {
        if (!first) reconnects_.Increment();
        first = false;
        stream();
        pause = milliseconds(100);
      } catch (const Fatal& e) {
        host_.log(sdk::LogLevel::error, e.what());
        set_health(false, e.what());
        return;
      } catch (const std::exception& e) {
        host_.log(sdk::LogLevel::warn, std::string("replication stream lost, reconnecting in ") +
                                           std::to_string(pause.count()) + " ms: " + e.what());
        set_health(false, std::string("reconnecting: ") + e.what());
      }
      for (auto waited = milliseconds(0); waited < pause && !stopping_; waited += kReadWait) {
        std::this_thread::sleep_for(kReadWait);
      }
      pause = std::min(pause * 2, milliseconds(5000));
    }
  }

  // One replication session, from the acknowledged position until an error or stop().
  void stream() {
    pg::Connection sql(host_.database_url());
    ensure_slot(sql);
    Session session{pg::ReplicationConnection(host_.database_url())};
    open(session, sql);
    while (!stopping_) {
      if (auto frame = session.conn.read(kReadWait)) on_frame(session, frame->view());
      const auto now = Clock::now();
      if (now - session.last_status >= milliseconds(settings_.status_interval_ms)) {
        send_status(session, false);
      }
      if (settings_.heartbeat_interval_ms > 0 &&
          now - session.last_heartbeat >= milliseconds(settings_.heartbeat_interval_ms)) {
        sql.exec("SELECT pg_logical_emit_message(false, $1, $2)",
                 {kHeartbeatPrefix, std::to_string(sdk::now_unix_us())});
        session.last_heartbeat = now;
      }
    }
    send_status(session, false);
  }

  // Starts streaming from what every consumer has acknowledged.
  void open(Session& session, pg::Connection& sql) {
    const Lsn resume = host_.event_sink().acknowledged();
    try {
      session.conn.start("START_REPLICATION SLOT \"" + settings_.slot + "\" LOGICAL " +
                         format_lsn(resume) + " (\"proto_version\" '1', \"publication_names\" '" +
                         settings_.publication + "', \"messages\" 'true')");
    } catch (const pg::Error& e) {
      if (std::string(e.what()).find("invalidated") != std::string::npos) throw Fatal(e.what());
      throw std::runtime_error(std::string("START_REPLICATION: ") + e.what());
    }
    // Someone else moving the slot past where we stopped would silently skip events.
    const auto slot =
        sql.exec("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                 {settings_.slot});
    const auto confirmed = slot.rows() ? parse_lsn(slot.get(0, 0)) : std::nullopt;
    if (resume != 0 && confirmed && *confirmed > resume) {
      host_.log(sdk::LogLevel::error, "replication slot " + settings_.slot + " jumped from " +
                                          format_lsn(resume) + " to " + format_lsn(*confirmed) +
                                          ": events in between were lost");
    }
    host_.log(sdk::LogLevel::info, "streaming slot " + settings_.slot + " from " +
                                       format_lsn(resume ? resume : confirmed.value_or(0)));
    set_health(true, "streaming from slot " + settings_.slot);
    session.received = session.flushed = resume;
  }

  void on_frame(Session& session, std::string_view bytes) {
    const auto frame = parse_copy_data(bytes);
    if (const auto* k = std::get_if<Keepalive>(&frame)) {
      session.server_end = std::max(session.server_end, k->wal_end);
      session.received = std::max(session.received, k->wal_end);
      if (k->reply_requested) send_status(session, false);
      return;
    }
    const auto& x = std::get<XLogData>(frame);
    session.received = std::max(session.received, x.data_start);
    const auto message = decode(x.payload);
    if (const auto* m = std::get_if<LogicalMessage>(&message); m && m->prefix == kHeartbeatPrefix) {
      try {
        lag_seconds_.Set(static_cast<double>(sdk::now_unix_us() - std::stoll(m->content)) / 1e6);
      } catch (const std::exception&) {
      }
    }
    if (auto batch = session.mapper.feed(message)) {
      for (const auto& e : batch->events) {
        if (auto it = counters_.find(e.type); it != counters_.end()) it->second->Increment();
      }
      lag_seconds_.Set(static_cast<double>(sdk::now_unix_us() - batch->commit_unix_us) / 1e6);
      host_.event_sink().publish(std::move(*batch));  // blocks while a consumer is far behind
    }
  }

  // Tells the server what every consumer has handled, so the slot may free the WAL before it.
  void send_status(Session& session, bool reply) {
    sdk::EventSink& sink = host_.event_sink();
    Lsn ack = sink.acknowledged();
    // Nothing in flight: everything the server has sent is handled, including the WAL of tables
    // we do not publish, so the slot may move on (otherwise WAL piles up when idle).
    if (sink.idle() && !session.mapper.in_transaction()) ack = std::max(ack, session.server_end);
    session.flushed = std::max(session.flushed, ack);
    session.conn.send(status_update(std::max(session.received, session.flushed), session.flushed,
                                    session.flushed, unix_to_pg_us(sdk::now_unix_us()), reply));
    lag_bytes_.Set(static_cast<double>(
        session.server_end > session.flushed ? session.server_end - session.flushed : 0));
    session.last_status = Clock::now();
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

}  // namespace flashsale::plugins::pg_wal

FLASHSALE_PLUGIN(flashsale::plugins::pg_wal::PgWalSource, "pg_wal", "0.1.0", "postgres")
