// event_source/pg_wal: reads the write-ahead log through a logical replication slot (pgoutput,
// protocol 1), turns committed row changes into domain events, publishes them to the host's
// event bus, and acknowledges to PostgreSQL only what every consumer has durably handled.
// Of many replicas on one database only the leader reads: the one whose SQL connection holds a
// session advisory lock on the slot's name. PostgreSQL releases it when that session ends (the
// process died or lost the database), and a standby's next try takes it; the slot, which only
// one process can stream from, is the last guard against two readers.
// It decodes the tables of the storage plugin "postgres" (its descriptor says so: the host
// refuses pg_wal without it and migrates postgres's tables before pg_wal's publication).
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <chrono>
#include <flashsale/pg/connection.hpp>
#include <flashsale/pg/migrations.hpp>
#include <flashsale/pg/replication.hpp>
#include <flashsale/sdk/event_source.hpp>
#include <flashsale/sdk/event_types.hpp>
#include <flashsale/sdk/settings.hpp>
#include <flashsale/sdk/threads.hpp>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "event_mapper.hpp"
#include "pgoutput.hpp"

namespace flashsale::plugins::pg_wal {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kHeartbeatPrefix = "flashsale.heartbeat";
constexpr milliseconds kReadWait{50};  // longest wait for a frame before the timers are looked at
constexpr milliseconds kStandbyPoll{200};  // how often a standby tries to take the lock
// A slot still streaming to someone this long after we took the lock belongs to a leader that
// lost its lock (its session ended) but not yet its replication connection: end that one.
constexpr milliseconds kStaleReaderGrace{3000};
// First key of the leader lock (pg_try_advisory_lock(int, int)); the second is the slot's name,
// hashed. Shown in pg_locks as classid and objid.
constexpr const char* kLockClass = "1179861828";     // "FSCD"
constexpr std::chrono::seconds kHealthySession{10};  // resets the reconnect backoff
// The values of pg_replication_slots.wal_status (PostgreSQL 13 and later).
constexpr std::array<const char*, 4> kWalStatuses = {"reserved", "extended", "unreserved", "lost"};

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
                        .Add({})),
        leader_(prometheus::BuildGauge()
                    .Name("flashsale_cdc_leader")
                    .Help("1 while this replica reads the write-ahead log (the CDC leader), 0 "
                          "while it stands by")
                    .Register(host.metrics())
                    .Add({})),
        wal_status_(prometheus::BuildGauge()
                        .Name("flashsale_cdc_slot_wal_status")
                        .Help("The replication slot's wal_status (value 1 for the current one): "
                              "reserved, extended, unreserved (WAL it needs is about to be "
                              "removed), lost (invalidated)")
                        .Register(host.metrics())),
        safe_wal_size_(prometheus::BuildGauge()
                           .Name("flashsale_cdc_slot_safe_wal_size_bytes")
                           .Help("WAL that can still be written before the slot is at risk of "
                                 "being invalidated (NaN: max_slot_wal_keep_size is unlimited)")
                           .Register(host.metrics())
                           .Add({})) {
    for (const auto type : sdk::event_type::kAll) {
      counters_[std::string(type)] = &events_.Add({{"type", std::string(type)}});
    }
    for (const auto status : kWalStatuses) {
      wal_statuses_[status] = &wal_status_.Add({{"status", status}});
    }
    safe_wal_size_.Set(std::numeric_limits<double>::quiet_NaN());
  }

  void migrate() override {
    pg::migrate(host_.database_url(), pg::embedded::schema(),
                [this](const std::string& line) { host_.log(sdk::LogLevel::info, line); });
  }

  void start() override {
    pg::Connection sql(host_.database_url());
    if (settings_.slot.empty()) {
      std::string db(sql.exec("SELECT current_database()").get(0, 0));
      for (auto& c : db)
        c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
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

  sdk::ClusterView cluster() override {
    pg::Connection sql(host_.database_url());
    sdk::ClusterView view;
    // Replicas by their connections' application_name, "flashsale/<node>/<plugin>"; the leader
    // is the one whose session holds the lock.
    const auto nodes = sql.exec(
        "SELECT split_part(a.application_name, '/', 2),"
        "       (extract(epoch FROM min(a.backend_start)) * 1e6)::bigint,"
        "       bool_or(l.pid IS NOT NULL)"
        "  FROM pg_stat_activity a"
        "  LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted"
        "   AND l.classid = $1::int::oid AND l.objid = hashtext($2)::oid AND l.objsubid = 2"
        " WHERE a.application_name LIKE 'flashsale/%/%' AND a.datname = current_database()"
        " GROUP BY 1 ORDER BY 1",
        {kLockClass, settings_.slot});
    for (int i = 0; i < nodes.rows(); ++i) {
      sdk::Replica r{std::string(nodes.get(i, 0)), sdk::rfc3339(nodes.get_int(i, 1)),
                     nodes.get(i, 2) == "t"};
      if (r.leader) view.leader = r.node_id;
      view.replicas.push_back(std::move(r));
    }
    // Since when: the start of the leader's replication session; lag: the slot's.
    const auto slot = sql.exec(
        "SELECT (extract(epoch FROM a.backend_start) * 1e6)::bigint,"
        "       (pg_current_wal_lsn() - s.confirmed_flush_lsn)::bigint"
        "  FROM pg_replication_slots s LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid"
        " WHERE s.slot_name = $1",
        {settings_.slot});
    if (slot.rows() > 0) {
      if (!slot.is_null(0, 0)) view.leader_since = sdk::rfc3339(slot.get_int(0, 0));
      if (!slot.is_null(0, 1)) view.lag_bytes = static_cast<std::uint64_t>(slot.get_int(0, 1));
    }
    return view;
  }

 private:
  // What one replication session knows of the stream.
  struct Session {
    std::optional<pg::ReplicationConnection> conn;  // made anew for each START_REPLICATION try
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

  // Reads the slot's wal_status and safe_wal_size into the gauges; returns the status, or
  // nothing while there is no slot.
  std::optional<std::string> observe_slot(pg::Connection& sql) {
    const auto rows =
        sql.exec("SELECT wal_status, safe_wal_size FROM pg_replication_slots WHERE slot_name = $1",
                 {settings_.slot});
    if (rows.rows() == 0) {
      set_wal_status("");
      safe_wal_size_.Set(std::numeric_limits<double>::quiet_NaN());
      return std::nullopt;
    }
    std::string status(rows.get(0, 0));
    set_wal_status(status);
    safe_wal_size_.Set(rows.is_null(0, 1) ? std::numeric_limits<double>::quiet_NaN()
                                          : static_cast<double>(rows.get_int(0, 1)));
    return status;
  }

  void set_wal_status(const std::string& status) {
    for (const auto& [name, gauge] : wal_statuses_) gauge->Set(name == status ? 1 : 0);
  }

  void ensure_slot(pg::Connection& sql) {
    const auto status = observe_slot(sql);
    if (!status) {
      try {
        sql.exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", {settings_.slot});
        host_.log(sdk::LogLevel::info, "created replication slot " + settings_.slot);
      } catch (const pg::Error& e) {
        if (!e.is_duplicate_object()) throw;  // made meanwhile by another instance: fine
      }
    } else if (*status == "lost") {
      throw Fatal("replication slot " + settings_.slot +
                  " was invalidated (it fell behind max_slot_wal_keep_size): events were lost; "
                  "see docs/operations.md, \"Event source: invalidated slot\"");
    }
  }

  // Reconnects after a lost session, waiting longer each time (up to 5 s); a session that
  // lasted kHealthySession starts the waits over, so one blip after a good hour costs 100 ms,
  // not the 5 s that earlier blips had built up.
  void run() {
    sdk::name_this_thread("pg_wal-reader");
    auto pause = milliseconds(100);
    bool first = true;
    while (!stopping_) {
      const auto began = std::chrono::steady_clock::now();
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
        if (std::chrono::steady_clock::now() - began >= kHealthySession) pause = milliseconds(100);
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

  // One turn: stands by until this replica holds the leader lock, then streams from the
  // acknowledged position until an error or stop(). The lock lives as long as `sql`.
  void stream() {
    pg::Connection sql(host_.database_url());
    ensure_slot(sql);
    const bool waited = !wait_for_lock(sql);
    if (stopping_) return;
    struct Leading {  // the gauge says "leader" exactly while this scope runs
      prometheus::Gauge& gauge;
      explicit Leading(prometheus::Gauge& g) : gauge(g) { gauge.Set(1); }
      ~Leading() { gauge.Set(0); }
      Leading(const Leading&) = delete;
      Leading& operator=(const Leading&) = delete;
    } leading(leader_);
    Session session;
    open(session, sql, waited);
    while (!stopping_) {
      if (auto frame = session.conn->read(kReadWait)) on_frame(session, frame->view());
      const auto now = Clock::now();
      if (now - session.last_status >= milliseconds(settings_.status_interval_ms)) {
        send_status(session, false);
        observe_slot(sql);  // also proves the lock's session alive: else end, another may lead
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

  // Takes the leader lock on `sql`'s session, trying every kStandbyPoll while another replica
  // holds it; healthy meanwhile ("standing by"). True if it was free at the first try; returns
  // early on stop().
  bool wait_for_lock(pg::Connection& sql) {
    for (int tries = 0; !stopping_; ++tries) {
      if (sql.exec("SELECT pg_try_advisory_lock($1::int, hashtext($2))",
                   {kLockClass, settings_.slot})
              .get(0, 0) == "t") {
        return tries == 0;
      }
      if (tries % 25 == 0) {  // on the first miss, then every 5 s: who leads may change
        const auto leader = sql.exec(
            "SELECT split_part(a.application_name, '/', 2) FROM pg_locks l"
            "  JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid"
            "   AND l.objid = hashtext($2)::oid AND l.objsubid = 2",
            {kLockClass, settings_.slot});
        const std::string who = leader.rows() ? std::string(leader.get(0, 0)) : "another replica";
        if (tries == 0) host_.log(sdk::LogLevel::info, "standing by: " + who + " reads the log");
        set_health(true, "standing by: " + who + " reads the log");
        observe_slot(sql);
      }
      for (auto waited = milliseconds(0); waited < kStandbyPoll && !stopping_;
           waited += kReadWait) {
        std::this_thread::sleep_for(kReadWait);
      }
    }
    return false;
  }

  // Starts streaming from what every consumer has acknowledged. `took_over`: another replica
  // led before us, so the slot may be ahead of our consumers (it moved for theirs).
  void open(Session& session, pg::Connection& sql, bool took_over) {
    const Lsn resume = host_.event_sink().acknowledged();
    start_replication(session, sql, resume);
    // Someone else moving the slot past where we stopped would silently skip events.
    const auto slot =
        sql.exec("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                 {settings_.slot});
    const auto confirmed = slot.rows() ? parse_lsn(slot.get(0, 0)) : std::nullopt;
    if (!took_over && resume != 0 && confirmed && *confirmed > resume) {
      host_.log(sdk::LogLevel::error, "replication slot " + settings_.slot + " jumped from " +
                                          format_lsn(resume) + " to " + format_lsn(*confirmed) +
                                          ": events in between were lost");
    }
    const Lsn from = confirmed ? std::max(resume, *confirmed) : resume;
    host_.log(sdk::LogLevel::info, std::string(took_over ? "leading now: " : "") +
                                       "streaming slot " + settings_.slot + " from " +
                                       format_lsn(from));
    set_health(true, "leading: streaming from slot " + settings_.slot);
    session.received = session.flushed = resume;
  }

  // START_REPLICATION, retried while the slot still streams to a former leader; past
  // kStaleReaderGrace that reader is ended (it lost its lock, so it no longer leads).
  void start_replication(Session& session, pg::Connection& sql, Lsn resume) {
    const std::string command = "START_REPLICATION SLOT \"" + settings_.slot + "\" LOGICAL " +
                                format_lsn(resume) +
                                " (\"proto_version\" '1', \"publication_names\" '" +
                                settings_.publication + "', \"messages\" 'true')";
    const auto since = Clock::now();
    bool ended_stale = false;
    for (;;) {
      try {
        session.conn.emplace(host_.database_url());
        session.conn->start(command);
        return;
      } catch (const pg::Error& e) {
        if (std::string(e.what()).find("invalidated") != std::string::npos) {
          set_wal_status("lost");
          throw Fatal(e.what());
        }
        if (!e.is_in_use() || stopping_) {
          throw std::runtime_error(std::string("START_REPLICATION: ") + e.what());
        }
      }
      if (!ended_stale && Clock::now() - since >= kStaleReaderGrace) {
        sql.exec(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots"
            " WHERE slot_name = $1 AND active_pid IS NOT NULL",
            {settings_.slot});
        host_.log(sdk::LogLevel::warn,
                  "ended the replication session of a former leader that "
                  "still held slot " +
                      settings_.slot);
        ended_stale = true;
      }
      std::this_thread::sleep_for(kReadWait);
    }
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
      std::string types;
      for (const auto& e : batch->events) types += (types.empty() ? "" : ",") + e.type;
      host_.log(sdk::LogLevel::debug, "transaction up to " + format_lsn(batch->end_lsn) +
                                          " committed at " + sdk::rfc3339(batch->commit_unix_us) +
                                          ": " + std::to_string(batch->events.size()) +
                                          " events (" + types + ")");
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
    session.conn->send(status_update(std::max(session.received, session.flushed), session.flushed,
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
  prometheus::Gauge& leader_;
  prometheus::Family<prometheus::Gauge>& wal_status_;
  std::map<std::string, prometheus::Gauge*> wal_statuses_;
  prometheus::Gauge& safe_wal_size_;
  std::atomic<bool> stopping_{false};
  std::thread reader_;
  std::mutex health_mutex_;
  sdk::Health health_{false, "not started"};
};

}  // namespace flashsale::plugins::pg_wal

FLASHSALE_PLUGIN(flashsale::plugins::pg_wal::PgWalSource, "pg_wal", "0.1.0", "postgres")
