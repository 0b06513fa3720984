// storage/postgres: the inventory semaphore and order lifecycle in PostgreSQL (SPEC §2).
// Each operation is one call of a lifecycle function of migrations/0001_inventory.sql (one
// short transaction); placements for a hot item are coalesced into one call per batch.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <flashsale/pg/connection.hpp>
#include <flashsale/pg/migrations.hpp>
#include <flashsale/pg/pool.hpp>
#include <flashsale/sdk/settings.hpp>
#include <flashsale/sdk/storage.hpp>
#include <flashsale/sdk/threads.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "place_coalescer.hpp"

namespace flashsale::plugins::postgres {
namespace {

using sdk::StorageError;
using sdk::StorageResult;
using std::chrono::milliseconds;

// The statements prepared once per connection.
const std::map<std::string, std::string> kStatements = {
    {"place_batch", "SELECT ord, outcome, message, body FROM fs_place_batch($1, $2::jsonb)"},
    {"get_order",
     "SELECT fs_order_json(o)::text FROM orders o WHERE o.id = $1::uuid AND o.user_id = $2"},
    {"order_history", "SELECT fs_order_history_json(o)::text FROM orders o WHERE o.id = $1::uuid"},
    {"list_orders",
     "SELECT jsonb_build_object('orders', coalesce(jsonb_agg(fs_order_json(o) "
     "ORDER BY o.created_at DESC, o.id), '[]'::jsonb))::text FROM ("
     " SELECT * FROM orders WHERE user_id = $1 AND ($2 = '' OR item_id = $2)"
     " AND ($3 = '' OR status = $3) ORDER BY created_at DESC, id LIMIT 1000) o"},
    {"end_order", "SELECT outcome, message, body FROM fs_end_order($1::uuid, $2, $3)"},
    {"get_item", "SELECT fs_item_json(i, $2::boolean)::text FROM items i WHERE i.id = $1"},
    {"list_items",
     "SELECT jsonb_build_object('items', coalesce(jsonb_agg(fs_item_json(i, true) ORDER BY i.id),"
     " '[]'::jsonb))::text FROM items i"},
    {"create_item",
     "INSERT INTO items (id, name, total_stock, available, payment_window_s, per_user_limit,"
     " waitlist_limit, opens_at, closes_at, paused)"
     " VALUES ($1, $2, $3::int, $3::int, $4::int, $5::int, $6::int,"
     " coalesce($7::timestamptz, now()), $8::timestamptz, $9::boolean)"
     " RETURNING fs_item_json(items, true)::text"},
    {"closes_after_opens",
     "SELECT $2::timestamptz > opens_at OR opens_at <= now(), fs_ts(opens_at) FROM items"
     " WHERE id = $1"},
    {"update_item",
     "SELECT outcome, message, body FROM fs_update_item($1, $2::int, $3::boolean, $4::boolean,"
     " $5::timestamptz)"},
    {"waitlist",
     "SELECT jsonb_build_object('item_id', i.id, 'waiting', i.waiting, 'offset', $3::bigint,"
     " 'waitlist', coalesce((SELECT jsonb_agg(jsonb_build_object('position', w.position,"
     " 'order_id', w.id, 'user_id', w.user_id, 'waitlist_seq', w.waitlist_seq,"
     " 'waiting_since', fs_ts(w.created_at)) ORDER BY w.waitlist_seq) FROM ("
     "  SELECT o.*, $3::bigint + row_number() OVER (ORDER BY o.waitlist_seq) AS position FROM ("
     "   SELECT * FROM orders WHERE item_id = i.id AND status = 'waiting'"
     "   ORDER BY waitlist_seq OFFSET $3::bigint LIMIT $2::int) o) w),"
     " '[]'::jsonb))::text FROM items i WHERE i.id = $1"},
    {"leases",
     "SELECT jsonb_build_object('item_id', i.id, 'leases', coalesce((SELECT jsonb_agg("
     " jsonb_build_object('reservation_id', l.id, 'order_id', l.order_id, 'user_id', l.user_id,"
     " 'granted_at', fs_ts(l.granted_at), 'expires_at', fs_ts(l.expires_at))"
     " ORDER BY l.expires_at, l.id) FROM ("
     "  SELECT r.*, o.user_id FROM reservations r JOIN orders o ON o.id = r.order_id"
     "  WHERE r.item_id = i.id AND r.status = 'active' ORDER BY r.expires_at, r.id"
     "  LIMIT $2::int) l), '[]'::jsonb))::text FROM items i WHERE i.id = $1"},
    {"record_payment", "SELECT result, body FROM fs_record_payment($1, $2::uuid, $3)"},
    // An update that changes nothing still locks, reclaims and promotes.
    {"sweep_item",
     "SELECT outcome, message, body FROM fs_update_item($1, NULL, NULL, false, NULL)"},
    {"register_device",
     "INSERT INTO devices (token, user_id) VALUES ($1, $2) ON CONFLICT (token) DO UPDATE"
     " SET user_id = excluded.user_id, registered_at = now()"
     " RETURNING jsonb_build_object('token', token, 'registered_at', fs_ts(registered_at))::text"},
    {"drop_device", "DELETE FROM devices WHERE token = $1 AND user_id = $2"},
    {"device_tokens",
     "SELECT user_id, token FROM devices WHERE user_id = ANY($1::text[]) ORDER BY user_id, token"},
    {"forget_devices", "DELETE FROM devices WHERE token = ANY($1::text[])"},
    // The leases held, from the item row (invariant 2, migration 0006): counting the active
    // reservations walked every lease each second, 23 ms with 100,000 of them.
    {"item_gauges",
     "SELECT i.id, i.available, i.waiting, i.total_stock - i.available - i.confirmed"
     " FROM items i ORDER BY i.id LIMIT $1::int"},
};

// Links $2 (text[]) to orders $1 (text[]), in one statement. Per link, in order: whether it was
// stored, and the status this statement's snapshot saw (before the update), to tell "not visible
// yet" (no row, or still waiting) from "too late". An id that is no UUID matches no order rather
// than failing the whole batch. Orders are found by primary key (= ANY, and a subquery per link).
// Not prepared: planned at each call, for the table as it is then. A prepared statement keeps
// the plan it made after a few calls until the table is next analyzed, and one made while
// `orders` held a few pages (a new sale's first seconds) scanned the whole table for every batch
// of links (23 scans a second reading 1.3 million rows at 2,000 orders/s) until autovacuum came,
// a minute or more later. Planning each call costs far less: the storage sessions' CPU per order
// went from 305 to 254 µs in a 20 s open-loop run at 2,000 orders/s (bench/README.md).
const std::string kSetPaymentLinks =
    "WITH l AS (SELECT t.n, t.link, CASE WHEN t.id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
    "[0-9a-f]{4}-[0-9a-f]{12}$' THEN t.id::uuid END AS id"
    "  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(id, link, n)),"
    " u AS (UPDATE orders o SET payment_link = l.link, updated_at = now() FROM l"
    "  WHERE o.id = ANY (ARRAY(SELECT id FROM l)) AND o.id = l.id AND o.status = 'reserved'"
    "  AND o.payment_link IS NULL RETURNING o.id)"
    " SELECT l.n, EXISTS (SELECT 1 FROM u WHERE u.id = l.id),"
    " (SELECT o.status FROM orders o WHERE o.id = l.id) FROM l ORDER BY l.n";

// Every outcome a placement can have: the label values of flashsale_orders_total.
const std::vector<std::string> kOutcomes = {"reserved",    "waiting",        "replayed",
                                            "sold_out",    "sale_not_open",  "sale_closed",
                                            "sale_paused", "limit_exceeded", "idempotency_mismatch",
                                            "not_found",   "overloaded",     "unavailable"};

struct Settings {
  int pool_size = 8;
  int batch_threads = 2;
  int max_batch = 256;
  int max_pending = 20000;
  int acquire_timeout_ms = 2000;
  int statement_timeout_ms = 5000;
  int metrics_item_limit = 100;
};

Settings parse_settings(const sdk::HostContext& host) {
  sdk::Settings in(host);
  Settings s;
  constexpr int kMax = 1000000;
  s.pool_size = in.integer("pool_size", s.pool_size, 2, kMax);
  s.batch_threads = in.integer("batch_threads", s.batch_threads, 1, kMax);
  s.max_batch = in.integer("max_batch", s.max_batch, 1, kMax);
  s.max_pending = in.integer("max_pending", s.max_pending, 1, kMax);
  s.acquire_timeout_ms = in.integer("acquire_timeout_ms", s.acquire_timeout_ms, 1, kMax);
  s.statement_timeout_ms = in.integer("statement_timeout_ms", s.statement_timeout_ms, 1, kMax);
  s.metrics_item_limit = in.integer("metrics_item_limit", s.metrics_item_limit, 0, kMax);
  in.done();
  if (s.batch_threads >= s.pool_size) {
    throw std::invalid_argument(in.name("batch_threads") + " must be below " +
                                in.name("pool_size"));
  }
  return s;
}

// An outcome a lifecycle function answers: "ok", or the code of an error; any other text is a
// defect (a function and this plugin out of step), never silently a conflict.
StorageError outcome_error(std::string_view outcome) {
  if (outcome == "ok") return StorageError::none;
  return sdk::storage_error(outcome).value_or(StorageError::internal);
}

StorageResult from_row(const pg::Result& r) {
  // Rows of (outcome, message, body).
  const auto error = outcome_error(r.get(0, 0));
  std::string message(error == StorageError::internal
                          ? "unknown outcome " + std::string(r.get(0, 0))
                          : std::string(r.get(0, 1)));
  return {error, std::move(message), std::string(r.get(0, 2))};
}

StorageResult single_json(const pg::Result& r, const std::string& what) {
  if (r.rows() == 0) return {StorageError::not_found, "no " + what, ""};
  return {StorageError::none, "", std::string(r.get(0, 0))};
}

}  // namespace

class PostgresStorage final : public sdk::Storage {
 public:
  explicit PostgresStorage(sdk::HostContext& host)
      : host_(host),
        settings_(parse_settings(host)),
        orders_(prometheus::BuildCounter()
                    .Name("flashsale_orders_total")
                    .Help("Order placements by outcome (reserved, waiting, replayed, or the error)")
                    .Register(host.metrics())),
        batch_size_(prometheus::BuildHistogram()
                        .Name("flashsale_reservation_batch_size")
                        .Help("Placements granted together in one database transaction")
                        .Register(host.metrics())
                        .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64,
                                                                         128, 256, 512})),
        pool_in_use_(prometheus::BuildGauge()
                         .Name("flashsale_db_pool_in_use")
                         .Help("Storage database connections on loan")
                         .Register(host.metrics())
                         .Add({})),
        place_pending_(prometheus::BuildGauge()
                           .Name("flashsale_place_pending")
                           .Help("Placements waiting for their item's next batch; past "
                                 "flashsale_place_max_pending they are refused as overloaded")
                           .Register(host.metrics())
                           .Add({})),
        item_available_(item_gauge("flashsale_item_available", "Units free to reserve, per item")),
        item_waiting_(item_gauge("flashsale_item_waiting", "Orders in the waiting line, per item")),
        item_leases_(item_gauge("flashsale_item_leases", "Active reservations (leases), per item")),
        pool_(
            host.database_url(), static_cast<std::size_t>(settings_.pool_size),
            [this](pg::Connection& c) { prepare(c); },
            [this](int delta) { pool_in_use_.Increment(delta); }) {
    for (const auto& o : kOutcomes) outcome_counters_[o] = &orders_.Add({{"outcome", o}});
    prometheus::BuildGauge()
        .Name("flashsale_place_max_pending")
        .Help("Waiting placements past which new ones are refused as overloaded (max_pending)")
        .Register(host.metrics())
        .Add({})
        .Set(settings_.max_pending);
  }

  void migrate() override {
    pg::migrate(host_.database_url(), pg::embedded::schema(),
                [this](const std::string& line) { host_.log(sdk::LogLevel::info, line); });
  }

  void start() override {
    coalescer_ = std::make_unique<PlaceCoalescer>(
        settings_.batch_threads, static_cast<std::size_t>(settings_.max_batch),
        static_cast<std::size_t>(settings_.max_pending),
        [this](const std::string& item, std::vector<PendingPlacement>& batch) {
          run_batch(item, batch);
        },
        &place_pending_);
    gauges_thread_ = std::thread([this] { refresh_gauges_loop(); });
  }

  void stop() override {
    coalescer_.reset();
    {
      std::lock_guard lock(stop_mutex_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    if (gauges_thread_.joinable()) gauges_thread_.join();
  }

  sdk::Health health() override {
    try {
      auto conn = pool_.acquire(milliseconds(settings_.acquire_timeout_ms));
      conn->exec("SELECT 1");
      return {true, "database reachable"};
    } catch (const pg::Error& e) {
      return {false, e.what()};
    }
  }

  void place(sdk::PlaceRequest request, Done done) override {
    if (!coalescer_) {
      done({StorageError::unavailable, "storage is not started", ""});
      return;
    }
    coalescer_->submit(std::move(request), std::move(done));
  }

  StorageResult get_order(const sdk::OrderRef& order) override {
    return query([&](pg::Connection& c) {
      return single_json(c.exec_prepared("get_order", {order.order_id, order.user_id}),
                         "order " + order.order_id);
    });
  }

  StorageResult list_orders(const sdk::OrderQuery& q) override {
    return query([&](pg::Connection& c) {
      return single_json(c.exec_prepared("list_orders", {q.user_id, q.item_id, q.status}),
                         "orders");
    });
  }

  StorageResult order_history(const std::string& order_id) override {
    return query([&](pg::Connection& c) {
      return single_json(c.exec_prepared("order_history", {order_id}), "order " + order_id);
    });
  }

  StorageResult end_order(const sdk::OrderRef& order, sdk::EndKind kind) override {
    const char* name = kind == sdk::EndKind::cancel         ? "cancel"
                       : kind == sdk::EndKind::force_cancel ? "force_cancel"
                                                            : "force_expire";
    const pg::Param user = order.user_id.empty() ? pg::Param() : pg::Param(order.user_id);
    return query([&](pg::Connection& c) {
      return from_row(c.exec_prepared("end_order", {order.order_id, user, name}));
    });
  }

  StorageResult get_item(const std::string& item_id, bool admin) override {
    return query([&](pg::Connection& c) {
      return single_json(c.exec_prepared("get_item", {item_id, admin ? "true" : "false"}),
                         "item " + item_id);
    });
  }

  StorageResult list_items() override {
    return query(
        [&](pg::Connection& c) { return single_json(c.exec_prepared("list_items", {}), "items"); });
  }

  StorageResult create_item(const sdk::NewItem& item) override {
    return query([&](pg::Connection& c) -> StorageResult {
      try {
        auto opt = [](const std::optional<std::string>& v) {
          return v ? pg::Param(*v) : pg::Param();
        };
        return single_json(
            c.exec_prepared(
                "create_item",
                {item.id, item.name, std::to_string(item.total_stock),
                 std::to_string(item.payment_window_s), std::to_string(item.per_user_limit),
                 item.waitlist_limit ? pg::Param(std::to_string(*item.waitlist_limit))
                                     : pg::Param(),
                 opt(item.opens_at), opt(item.closes_at), item.paused ? "true" : "false"}),
            "item");
      } catch (const pg::Error& e) {
        if (e.is_unique_violation()) {
          return {StorageError::already_exists, "item " + item.id + " already exists", ""};
        }
        if (e.is_data_error()) return refused(e, "item " + item.id);
        throw;
      }
    });
  }

  StorageResult update_item(const std::string& item_id, const sdk::ItemChange& change) override {
    return query([&](pg::Connection& c) -> StorageResult {
      try {
        if (change.closes_at) {
          const auto opens = c.exec_prepared("closes_after_opens", {item_id, *change.closes_at});
          // A sale that has not opened yet cannot close before it opens; one that opened
          // closes at once with any past time.
          if (opens.rows() == 1 && opens.get(0, 0) == "f") {
            return {StorageError::bad_request,
                    "closes_at must be after the item's opens_at (" + std::string(opens.get(0, 1)) +
                        "): the sale has not opened yet",
                    ""};
          }
        }
        return from_row(c.exec_prepared(
            "update_item",
            {item_id, change.add_stock ? pg::Param(std::to_string(*change.add_stock)) : pg::Param(),
             change.paused ? pg::Param(*change.paused ? "true" : "false") : pg::Param(),
             change.set_closes_at ? "true" : "false",
             change.closes_at ? pg::Param(*change.closes_at) : pg::Param()}));
      } catch (const pg::Error& e) {
        if (e.is_data_error()) return refused(e, "item " + item_id);
        throw;
      }
    });
  }

  StorageResult waitlist(const std::string& item_id, long long offset, int limit) override {
    return query([&](pg::Connection& c) {
      return single_json(
          c.exec_prepared("waitlist", {item_id, std::to_string(limit), std::to_string(offset)}),
          "item " + item_id);
    });
  }

  StorageResult leases(const std::string& item_id, int limit) override {
    return query([&](pg::Connection& c) {
      return single_json(c.exec_prepared("leases", {item_id, std::to_string(limit)}),
                         "item " + item_id);
    });
  }

  std::vector<StorageResult> set_payment_links(
      const std::vector<sdk::PaymentLink>& links) override {
    std::vector<StorageResult> results(links.size());
    std::vector<std::string> ids;
    std::vector<std::string> urls;
    ids.reserve(links.size());
    urls.reserve(links.size());
    for (const auto& l : links) {
      ids.push_back(l.order_id);
      urls.push_back(l.link);
    }
    const auto failed = query([&](pg::Connection& c) -> StorageResult {
      const auto r = c.exec(kSetPaymentLinks, {pg::text_array(ids), pg::text_array(urls)});
      for (int row = 0; row < r.rows(); ++row) {
        const auto i = static_cast<std::size_t>(r.get_int(row, 0) - 1);
        if (i >= results.size() || r.get(row, 1) == "t") continue;
        const std::string status(r.get(row, 2));
        results[i] = status.empty() || status == "waiting"
                         ? StorageResult{StorageError::not_found,
                                         "no reserved order " + ids[i] + " is visible yet", ""}
                         : StorageResult{StorageError::invalid_transition,
                                         "the order is " + status + " or already has a link", ""};
      }
      return {};
    });
    if (!failed.ok()) results.assign(links.size(), failed);
    return results;
  }

  StorageResult sweep_item(const std::string& item_id) override {
    return query(
        [&](pg::Connection& c) { return from_row(c.exec_prepared("sweep_item", {item_id})); });
  }

  StorageResult record_payment(const std::string& event_id, const std::string& order_id,
                               bool succeeded) override {
    return query([&](pg::Connection& c) -> StorageResult {
      const auto r = c.exec_prepared("record_payment",
                                     {event_id, order_id, succeeded ? "succeeded" : "failed"});
      const std::string result(r.get(0, 0));
      return {result == "duplicate" ? StorageError::duplicate : StorageError::none, "",
              std::string(r.get(0, 1))};
    });
  }

  StorageResult register_device(const std::string& user_id, const std::string& token) override {
    return query([&](pg::Connection& c) -> StorageResult {
      return {StorageError::none, "",
              std::string(c.exec_prepared("register_device", {token, user_id}).get(0, 0))};
    });
  }

  StorageResult drop_device(const std::string& user_id, const std::string& token) override {
    return query([&](pg::Connection& c) -> StorageResult {
      if (c.exec_prepared("drop_device", {token, user_id}).affected() == 0) {
        return {StorageError::not_found, "no such device token for this user", ""};
      }
      return {};
    });
  }

  std::map<std::string, std::vector<std::string>> device_tokens(
      const std::vector<std::string>& user_ids) override {
    std::map<std::string, std::vector<std::string>> tokens;
    if (user_ids.empty()) return tokens;
    auto conn = pool_.acquire(milliseconds(settings_.acquire_timeout_ms));
    const auto r = conn->exec_prepared("device_tokens", {pg::text_array(user_ids)});
    for (int i = 0; i < r.rows(); ++i) tokens[std::string(r.get(i, 0))].emplace_back(r.get(i, 1));
    return tokens;
  }

  void forget_devices(const std::vector<std::string>& tokens) override {
    if (tokens.empty()) return;
    auto conn = pool_.acquire(milliseconds(settings_.acquire_timeout_ms));
    conn->exec_prepared("forget_devices", {pg::text_array(tokens)});
  }

 private:
  // A value PostgreSQL refused, in words a client may read: never the database's own text,
  // which quotes the statement and its parameters (that goes to the log).
  StorageResult refused(const pg::Error& e, const std::string& what) const {
    host_.log(sdk::LogLevel::info, what + ": the database refused a value: " + e.what());
    std::string why = "a value is not acceptable";
    if (e.is_number_out_of_range()) {
      why = "a count would go past 2147483647";
    } else if (e.is_bad_time()) {
      why = "a time is out of range";
    } else if (e.is_check_violation()) {
      why = "a count would go below zero or past the stock";
    }
    return {StorageError::bad_request, what + ": " + why, ""};
  }

  prometheus::Family<prometheus::Gauge>& item_gauge(const std::string& name,
                                                    const std::string& help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(host_.metrics());
  }

  void prepare(pg::Connection& c) const {
    c.exec("SET statement_timeout = " + std::to_string(settings_.statement_timeout_ms));
    for (const auto& [name, sql] : kStatements) c.prepare(name, sql);
  }

  // Runs fn on a pooled connection; a database failure becomes "unavailable" (503).
  template <typename Fn>
  StorageResult query(Fn fn) {
    try {
      auto conn = pool_.acquire(milliseconds(settings_.acquire_timeout_ms));
      return fn(*conn);
    } catch (const pg::Error& e) {
      host_.log(sdk::LogLevel::error, std::string("database error: ") + e.what());
      return {StorageError::unavailable, "the database is unavailable; retry shortly", ""};
    }
  }

  void count(const std::string& outcome) {
    auto it = outcome_counters_.find(outcome);
    if (it != outcome_counters_.end()) it->second->Increment();
  }

  void run_batch(const std::string& item, std::vector<PendingPlacement>& batch) {
    nlohmann::json requests = nlohmann::json::array();
    for (const auto& p : batch) {
      requests.push_back({{"user", p.request.user_id}, {"key", p.request.idempotency_key}});
    }
    const std::string payload = requests.dump();
    std::vector<StorageResult> results(
        batch.size(),
        {StorageError::unavailable, "the database is unavailable; retry shortly", ""});
    std::vector<std::string> outcomes(batch.size(), "unavailable");
    // A deadlock (two items' batches claiming the same keys) or serialization failure is retried.
    for (int attempt = 1; attempt <= 3; ++attempt) {
      try {
        auto conn = pool_.acquire(milliseconds(settings_.acquire_timeout_ms));
        const auto rows = conn->exec_prepared("place_batch", {item, payload});
        for (int r = 0; r < rows.rows(); ++r) {
          const auto i = static_cast<std::size_t>(rows.get_int(r, 0));
          if (i >= results.size()) continue;
          outcomes[i] = std::string(rows.get(r, 1));
          const bool ok = !rows.is_null(r, 3);  // a body means an order: new or replayed
          results[i] = {ok ? StorageError::none : outcome_error(outcomes[i]),
                        std::string(rows.get(r, 2)), std::string(rows.get(r, 3))};
        }
        batch_size_.Observe(static_cast<double>(batch.size()));
        std::map<std::string, int> tally;
        for (const auto& o : outcomes) ++tally[o];
        std::string summary;
        for (const auto& [outcome, n] : tally) {
          summary += (summary.empty() ? "" : ", ") + outcome + " " + std::to_string(n);
        }
        host_.log(sdk::LogLevel::debug, "placed a batch of " + std::to_string(batch.size()) +
                                            " for " + item + " (attempt " +
                                            std::to_string(attempt) + "): " + summary);
        break;
      } catch (const pg::Error& e) {
        // Deadlock, serialization failure, or a connection lost (e.g. the server restarted):
        // the whole batch rolled back, and replaying it is safe (idempotency keys).
        const bool retry = e.is_retryable();
        host_.log(retry ? sdk::LogLevel::warn : sdk::LogLevel::error,
                  "placement batch for " + item + " failed: " + e.what());
        if (!retry) break;
      }
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      count(outcomes[i]);
      std::exchange(batch[i].done, nullptr)(std::move(results[i]));
    }
  }

  void refresh_gauges_loop() {
    sdk::name_this_thread("pg-item-gauges");
    std::unique_lock lock(stop_mutex_);
    while (!stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
      lock.unlock();
      refresh_gauges();
      lock.lock();
    }
  }

  void refresh_gauges() {
    if (settings_.metrics_item_limit == 0) return;
    try {
      auto conn = pool_.acquire(milliseconds(settings_.acquire_timeout_ms));
      const auto rows =
          conn->exec_prepared("item_gauges", {std::to_string(settings_.metrics_item_limit)});
      for (int r = 0; r < rows.rows(); ++r) {
        const std::map<std::string, std::string> labels = {{"item", std::string(rows.get(r, 0))}};
        item_available_.Add(labels).Set(static_cast<double>(rows.get_int(r, 1)));
        item_waiting_.Add(labels).Set(static_cast<double>(rows.get_int(r, 2)));
        item_leases_.Add(labels).Set(static_cast<double>(rows.get_int(r, 3)));
      }
    } catch (const pg::Error& e) {
      host_.log(sdk::LogLevel::warn, std::string("item gauges not refreshed: ") + e.what());
    }
  }

  sdk::HostContext& host_;
  Settings settings_;
  prometheus::Family<prometheus::Counter>& orders_;
  std::map<std::string, prometheus::Counter*> outcome_counters_;
  prometheus::Histogram& batch_size_;
  prometheus::Gauge& pool_in_use_;
  prometheus::Gauge& place_pending_;
  prometheus::Family<prometheus::Gauge>& item_available_;
  prometheus::Family<prometheus::Gauge>& item_waiting_;
  prometheus::Family<prometheus::Gauge>& item_leases_;
  pg::Pool pool_;
  std::unique_ptr<PlaceCoalescer> coalescer_;
  std::thread gauges_thread_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace flashsale::plugins::postgres

FLASHSALE_PLUGIN(flashsale::plugins::postgres::PostgresStorage, "postgres", "1.0.0")
