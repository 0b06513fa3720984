// The inventory semaphore under load and faults, over real HTTP against a real PostgreSQL:
// no oversell, FIFO promotion, idempotency and per-user limits under races, lazy expiry, and
// SPEC §2's invariants after every scenario.
#include <catch2/catch.hpp>
#include <flashsale/pg/connection.hpp>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "support/api_client.hpp"
#include "support/invariants.hpp"
#include "support/parallel.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale::test;
using nlohmann::json;

namespace {

void require_invariants() {
  const auto violations = invariant_violations(shared_service().database_url);
  for (const auto& v : violations) UNSCOPED_INFO(v);
  REQUIRE(violations.empty());
}

std::string status_of(const std::string& user, const std::string& order_id) {
  return get_order(shared_service().public_port, user, order_id).json()["status"];
}

// Waits until the database clock is past every active lease of `item`.
void wait_for_leases_to_lapse(const std::string& item) {
  flashsale::pg::Connection conn(shared_service().database_url);
  REQUIRE(eventually(
      [&] {
        return conn.exec(
                       "SELECT coalesce(max(expires_at) < now(), true) FROM reservations "
                       "WHERE item_id = $1 AND status = 'active'",
                       {item})
                   .get(0, 0) == "t";
      },
      std::chrono::seconds(10)));
}

}  // namespace

TEST_CASE(
    "2,000 concurrent placements from 64 threads for 100 units: no oversell, a gap-free line") {
  const auto& svc = shared_service();
  const auto item = unique_name("burst");
  create_item(svc.admin_port, {{"id", item}, {"name", "Burst"}, {"total_stock", 100}});
  std::vector<HttpResult> results(2000);
  parallel_for(64, 2000, [&](int i) {
    results[i] = place(svc.public_port, item + "-user-" + std::to_string(i), item, "key");
  });
  int reserved = 0;
  std::vector<int> positions;
  for (const auto& r : results) {
    REQUIRE(r.status == 202);
    const auto order = r.json();
    if (order["status"] == "reserved") {
      ++reserved;
      CHECK(order.contains("reservation"));
    } else {
      REQUIRE(order["status"] == "waiting");
      positions.push_back(order["waitlist_position"]);
    }
  }
  CHECK(reserved == 100);
  REQUIRE(positions.size() == 1900);
  std::sort(positions.begin(), positions.end());
  for (int i = 0; i < 1900; ++i) REQUIRE(positions[i] == i + 1);
  const auto state = admin_item(svc.admin_port, item);
  CHECK(state["available"] == 0);
  CHECK(state["reserved"] == 100);
  CHECK(state["waiting"] == 1900);
  require_invariants();
}

TEST_CASE("freed units go to the head of the line, in order; newcomers queue behind") {
  const auto& svc = shared_service();
  const auto item = unique_name("fifo");
  create_item(svc.admin_port, {{"id", item}, {"name", "Fifo"}, {"total_stock", 2}});
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    const auto r = place(svc.public_port, "u" + std::to_string(i), item, "k");
    ids.push_back(r.json()["id"]);
    CHECK(r.json()["status"] == (i < 2 ? "reserved" : "waiting"));
  }
  // A cancelled lease goes to the first waiter, an operator-expired one to the second.
  CHECK(cancel(svc.public_port, "u0", ids[0]).status == 200);
  CHECK(status_of("u2", ids[2]) == "reserved");
  CHECK(status_of("u3", ids[3]) == "waiting");
  CHECK(http_request(svc.admin_port, "POST", "/admin/orders/" + ids[1] + "/expire").status == 200);
  CHECK(status_of("u3", ids[3]) == "reserved");
  // A restock serves the line before anyone new.
  CHECK(
      http_request(svc.admin_port, "PATCH", "/admin/items/" + item, R"({"add_stock": 2})").status ==
      200);
  CHECK(status_of("u4", ids[4]) == "reserved");
  CHECK(status_of("u5", ids[5]) == "reserved");
  CHECK(status_of("u6", ids[6]) == "waiting");
  const auto late = place(svc.public_port, "u7", item, "k").json();
  CHECK(late["status"] == "waiting");
  CHECK(late["waitlist_position"] == 2);
  // A waiter leaving moves the ones behind up.
  CHECK(cancel(svc.public_port, "u6", ids[6]).status == 200);
  CHECK(get_order(svc.public_port, "u7", late["id"]).json()["waitlist_position"] == 1);
  const auto line =
      http_request(svc.admin_port, "GET", "/admin/items/" + item + "/waitlist").json();
  REQUIRE(line["waitlist"].size() == 1);
  CHECK(line["waitlist"][0]["order_id"] == late["id"]);
  require_invariants();
}

TEST_CASE("the same (user, Idempotency-Key) 50 times at once: one order, identical answers") {
  const auto& svc = shared_service();
  const auto item = unique_name("idem");
  const auto other = unique_name("idem-other");
  create_item(svc.admin_port, {{"id", item}, {"name", "Idem"}, {"total_stock", 1}});
  create_item(svc.admin_port, {{"id", other}, {"name", "Other"}, {"total_stock", 1}});
  for (const std::string user : {"first", "second"}) {  // one gets the unit, one waits
    std::vector<HttpResult> results(50);
    parallel_for(50, 50,
                 [&](int i) { results[i] = place(svc.public_port, user, item, "same-key"); });
    for (const auto& r : results) {
      CHECK(r.status == 202);
      CHECK(r.body == results[0].body);
    }
  }
  flashsale::pg::Connection conn(svc.database_url);
  CHECK(conn.exec("SELECT count(*) FROM orders WHERE item_id = $1", {item}).get_int(0, 0) == 2);
  // The key stays bound to its first item, and to its first answer after the order changed.
  const auto first = place(svc.public_port, "first", item, "same-key");
  const auto mismatch = place(svc.public_port, "first", other, "same-key");
  CHECK(mismatch.status == 422);
  CHECK(mismatch.json()["error"] == "idempotency_mismatch");
  CHECK(cancel(svc.public_port, "first", first.json()["id"]).status == 200);
  CHECK(place(svc.public_port, "first", item, "same-key").body == first.body);
  require_invariants();
}

TEST_CASE("one user firing 20 requests with different keys at once gets exactly per_user_limit") {
  const auto& svc = shared_service();
  for (const int limit : {1, 3}) {
    const auto item = unique_name("limit");
    create_item(svc.admin_port,
                {{"id", item}, {"name", "Limit"}, {"total_stock", 2}, {"per_user_limit", limit}});
    std::vector<HttpResult> results(20);
    parallel_for(20, 20, [&](int i) {
      results[i] = place(svc.public_port, "greedy", item, item + "-key-" + std::to_string(i));
    });
    int accepted = 0, refused = 0;
    for (const auto& r : results) {
      if (r.status == 202) ++accepted;
      if (r.status == 409 && r.json()["error"] == "limit_exceeded") ++refused;
    }
    CHECK(accepted == limit);
    CHECK(refused == 20 - limit);
  }
  require_invariants();
}

TEST_CASE("with no expiry job at all, the next placement reclaims a lapsed lease") {
  // No scheduler: correctness must not wait for one.
  const std::string url = fresh_database();
  ServiceProcess service({"serve"},
                         {"FLASHSALE_DATABASE_URL=" + url,
                          R"(FLASHSALE_PLUGINS_LOAD=[{"file": "flashsale_storage_postgres"}])"});
  REQUIRE(service.wait_listening());
  const auto P = service.public_port;
  create_item(service.admin_port,
              {{"id", "lazy"}, {"name", "Lazy"}, {"total_stock", 3}, {"payment_window_s", 1}});
  std::vector<std::string> ids;
  ids.reserve(6);
  for (int i = 0; i < 6; ++i)
    ids.push_back(place(P, "l" + std::to_string(i), "lazy", "k").json()["id"]);
  {
    flashsale::pg::Connection conn(url);
    REQUIRE(eventually(
        [&] {
          return conn.exec(
                         "SELECT max(expires_at) < now() FROM reservations WHERE item_id = 'lazy'")
                     .get(0, 0) == "t";
        },
        std::chrono::seconds(10)));
  }
  // Nothing ran in between: the next touch of the item does the reclaiming.
  const auto newcomer = place(P, "l6", "lazy", "k").json();
  CHECK(newcomer["status"] == "waiting");
  CHECK(newcomer["waitlist_position"] == 1);
  for (int i = 0; i < 3; ++i) {
    const auto o = get_order(P, "l" + std::to_string(i), ids[i]).json();
    CHECK(o["status"] == "expired");
    CHECK(o["reason"] == "payment_window_over");
    CHECK(get_order(P, "l" + std::to_string(i + 3), ids[i + 3]).json()["status"] == "reserved");
  }
  const auto violations = invariant_violations(url);
  for (const auto& v : violations) UNSCOPED_INFO(v);
  CHECK(violations.empty());
}

TEST_CASE("payments: confirmed while the lease holds, refunded after, duplicates ignored") {
  const auto& svc = shared_service();
  const auto item = unique_name("pay");
  create_item(svc.admin_port,
              {{"id", item}, {"name", "Pay"}, {"total_stock", 2}, {"payment_window_s", 1}});
  const auto a = place(svc.public_port, "pa", item, "k").json();
  const auto b = place(svc.public_port, "pb", item, "k").json();
  auto pay = [&](const std::string& event, const std::string& order, const std::string& outcome) {
    return http_request(
        svc.public_port, "POST", "/v1/payments/webhook",
        json{{"event_id", event}, {"order_id", order}, {"outcome", outcome}}.dump());
  };
  const auto ok = pay(item + "-e1", a["id"], "succeeded");
  CHECK(ok.status == 200);
  CHECK(ok.json()["result"] == "confirmed");
  CHECK(status_of("pa", a["id"]) == "confirmed");
  const auto again = pay(item + "-e1", a["id"], "succeeded");
  CHECK(again.json()["result"] == "confirmed");
  CHECK(again.json()["duplicate"] == true);
  CHECK(pay(item + "-e2", b["id"], "failed").json()["result"] == "failed");
  CHECK(status_of("pb", b["id"]) == "reserved");
  wait_for_leases_to_lapse(item);
  CHECK(pay(item + "-e3", b["id"], "succeeded").json()["result"] == "refund_required");
  CHECK(status_of("pb", b["id"]) == "expired");
  CHECK(status_of("pa", a["id"]) == "confirmed");
  CHECK(pay(item + "-e4", "00000000-0000-0000-0000-000000000000", "succeeded").json()["result"] ==
        "unknown_order");
  require_invariants();
}

TEST_CASE("a random concurrent mix of every operation keeps every invariant") {
  const auto& svc = shared_service();
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::vector<std::string> items;
  for (int i = 0; i < 3; ++i) {
    items.push_back(unique_name("mix"));
    create_item(svc.admin_port, {{"id", items.back()},
                                 {"name", "Mix"},
                                 {"total_stock", 4},
                                 {"per_user_limit", 2},
                                 {"payment_window_s", 1 + i}});
  }
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> orders;  // (user, order id)
  for (int round = 0; round < 4; ++round) {
    parallel_for(8, 80, [&](int i) {
      std::mt19937 rng(seed + round * 1000 + i);
      const auto& item = items[rng() % items.size()];
      const std::string user = "m" + std::to_string(rng() % 30);
      std::pair<std::string, std::string> some;
      {
        std::lock_guard lock(mutex);
        if (!orders.empty()) some = orders[rng() % orders.size()];
      }
      switch (rng() % 7) {
        case 0:
        case 1:
        case 2: {
          const auto r = place(svc.public_port, user, item, "k" + std::to_string(rng() % 40));
          if (r.status == 202) {
            std::lock_guard lock(mutex);
            orders.emplace_back(user, r.json()["id"]);
          }
          break;
        }
        case 3:
          if (!some.first.empty()) cancel(svc.public_port, some.first, some.second);
          break;
        case 4:
          if (!some.first.empty())
            http_request(svc.admin_port, "POST", "/admin/orders/" + some.second + "/expire");
          break;
        case 5:
          http_request(svc.admin_port, "PATCH", "/admin/items/" + item, R"({"add_stock": 1})");
          break;
        default:
          if (!some.first.empty()) {
            http_request(svc.public_port, "POST", "/v1/payments/webhook",
                         json{{"event_id", "mix-" + std::to_string(rng() % 50) + "-" + item},
                              {"order_id", some.second},
                              {"outcome", rng() % 2 ? "succeeded" : "failed"}}
                             .dump());
          }
      }
    });
    require_invariants();
  }
}

TEST_CASE(
    "database connections killed mid-burst: no partial write, and retries recover everything") {
  const auto& svc = shared_service();
  const auto item = unique_name("fault");
  create_item(svc.admin_port, {{"id", item}, {"name", "Fault"}, {"total_stock", 50}});
  std::atomic<bool> done{false};
  std::thread killer([&] {
    flashsale::pg::Connection conn(svc.database_url);
    while (!done) {
      conn.exec(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
          "current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::vector<HttpResult> results(600);
  parallel_for(32, 600, [&](int i) {
    results[i] = place(svc.public_port, item + "-u" + std::to_string(i), item, "k");
  });
  done = true;
  killer.join();
  int unavailable = 0;
  for (const auto& r : results) {
    INFO(r.body);
    REQUIRE((r.status == 202 || r.status == 503));
    if (r.status == 503) ++unavailable;
  }
  UNSCOPED_INFO(unavailable << " of 600 placements hit a killed connection");
  require_invariants();
  // Retrying with the same key either finds the order that did commit or places it now.
  std::set<std::string> ids;
  for (int i = 0; i < 600; ++i) {
    const auto r = place(svc.public_port, item + "-u" + std::to_string(i), item, "k");
    REQUIRE(r.status == 202);
    if (results[i].status == 202) CHECK(r.body == results[i].body);
    ids.insert(r.json()["id"].get<std::string>());
  }
  CHECK(ids.size() == 600);
  flashsale::pg::Connection conn(svc.database_url);
  CHECK(conn.exec("SELECT count(*) FROM orders WHERE item_id = $1", {item}).get_int(0, 0) == 600);
  CHECK(admin_item(svc.admin_port, item)["reserved"] == 50);
  require_invariants();
}

TEST_CASE("a sale that closes ends its waiting line instead of serving it") {
  const auto& svc = shared_service();
  const auto item = unique_name("closing");
  create_item(svc.admin_port, {{"id", item}, {"name", "Closing"}, {"total_stock", 1}});
  const std::string holder = place(svc.public_port, "c0", item, "k").json()["id"];
  std::vector<std::string> waiters;
  for (int i = 1; i <= 3; ++i) {
    waiters.push_back(place(svc.public_port, "c" + std::to_string(i), item, "k").json()["id"]);
  }
  REQUIRE(http_request(svc.admin_port, "PATCH", "/admin/items/" + item,
                       R"({"closes_at": "2020-01-01T00:00:00Z"})")
              .status == 200);
  // The unit that comes back after the close stays unsold: nobody is promoted.
  CHECK(cancel(svc.public_port, "c0", holder).status == 200);
  for (int i = 0; i < 3; ++i) {
    const auto o = get_order(svc.public_port, "c" + std::to_string(i + 1), waiters[i]).json();
    CHECK(o["status"] == "expired");
    CHECK(o["reason"] == "sale_closed");
  }
  const auto state = admin_item(svc.admin_port, item);
  CHECK(state["waiting"] == 0);
  CHECK(state["available"] == 1);
  require_invariants();
}

TEST_CASE("cancelling an order whose lease already lapsed is refused: it expired") {
  const auto& svc = shared_service();
  const auto item = unique_name("lapsed");
  create_item(svc.admin_port,
              {{"id", item}, {"name", "Lapsed"}, {"total_stock", 1}, {"payment_window_s", 1}});
  const std::string id = place(svc.public_port, "lp", item, "k").json()["id"];
  wait_for_leases_to_lapse(item);
  const auto r = cancel(svc.public_port, "lp", id);
  CHECK(r.status == 409);
  CHECK(r.json()["error"] == "invalid_transition");
  CHECK(r.json()["current"]["status"] == "expired");
  CHECK(r.json()["current"]["reason"] == "payment_window_over");
  require_invariants();
}
