// `kill -9` of `flashsale serve` in a 500-connection burst of placements, three times (early,
// midway, late in a burst), on an external PostgreSQL that survives it. After each kill and
// restart: every acknowledged order is in the tables, replays answer the committed order,
// nothing is oversold, every granted order gets exactly one payment link, and leases still
// lapse and hand their units to the waiters.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <flashsale/pg/connection.hpp>
#include <iostream>
#include <map>
#include <thread>

#include "support/api_client.hpp"
#include "support/invariants.hpp"
#include "support/parallel.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr int kConnections = 500;
constexpr int kBurst = 1500;  // placements per round, each a new user with a new key
constexpr int kStock = 50;    // so most of every burst waits in line
constexpr int kWindowS = 3;   // leases lapse, and waiters move up, within each round

// One placement of a burst and what its client saw.
struct Attempt {
  std::string user, key;
  bool sent = false;
  std::optional<test::HttpResult> answer;  // none: the connection died with the service
  bool dropped = false;                    // failed before the kill: a healthy service let it down
};

struct StoredOrder {
  std::string user, status;
  bool granted = false;  // it has (or had) a lease
};

std::map<std::string, StoredOrder> stored_orders(pg::Connection& db, const std::string& item) {
  const auto rows = db.exec(
      "SELECT o.id::text, o.user_id, o.status, r.id IS NOT NULL FROM orders o "
      "LEFT JOIN reservations r ON r.order_id = o.id WHERE o.item_id = $1",
      {item});
  std::map<std::string, StoredOrder> orders;
  for (int r = 0; r < rows.rows(); ++r) {
    orders[std::string(rows.get(r, 0))] = {std::string(rows.get(r, 1)), std::string(rows.get(r, 2)),
                                           rows.get(r, 3) == "t"};
  }
  return orders;
}

std::vector<std::string> column(pg::Connection& db, const std::string& sql,
                                const std::string& item) {
  const auto rows = db.exec(sql, {item});
  std::vector<std::string> values;
  values.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) values.emplace_back(rows.get(r, 0));
  return values;
}

// Granted orders of `item` that do not have exactly one finished make_payment_link job, or that
// are still reserved without their link: both must be empty once the slow path caught up.
std::vector<std::string> missing_links(pg::Connection& db, const std::string& item) {
  return column(db,
                "WITH links AS (SELECT payload ->> 'order_id' AS order_id, count(*) AS jobs, "
                "count(*) FILTER (WHERE state = 'done') AS done FROM jobs "
                "WHERE kind = 'make_payment_link' GROUP BY 1) "
                "SELECT o.id || ' ' || o.status || ' jobs ' || coalesce(l.jobs, 0) || ' done ' "
                "|| coalesce(l.done, 0) FROM orders o JOIN reservations r ON r.order_id = o.id "
                "LEFT JOIN links l ON l.order_id = o.id::text WHERE o.item_id = $1 AND "
                "(coalesce(l.jobs, 0) <> 1 OR l.done <> 1 OR "
                "(o.status = 'reserved' AND o.payment_link IS NULL))",
                item);
}

// Units held beyond the stock: what invariant 2 forbids, as a figure for the summary.
long long oversold(pg::Connection& db, const std::string& item) {
  return db
      .exec(
          "SELECT greatest(0, count(r.id) - i.total_stock) FROM items i LEFT JOIN reservations r "
          "ON r.item_id = i.id AND r.status IN ('active', 'consumed') WHERE i.id = $1 "
          "GROUP BY i.total_stock",
          {item})
      .get_int(0, 0);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("kill -9 of the service in a burst, three times: no acknowledged order lost") {
  const std::string url = test::fresh_database();
  const std::string item = "kill-burst";
  auto service = test::start_replica(url, "kill-0");
  REQUIRE(test::eventually([&] { return test::ready(*service); }, 30s));
  test::create_item(service->admin_port, {{"id", item},
                                          {"name", "Kill burst"},
                                          {"total_stock", kStock},
                                          {"payment_window_s", kWindowS}});
  pg::Connection db(url);

  // When each round's kill comes: the share of its burst answered by then.
  const double kill_at[] = {0.1, 0.5, 0.9};
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round << ", kill after " << kill_at[round] * 100 << " % answered");
    std::vector<Attempt> attempts(kBurst);
    for (int i = 0; i < kBurst; ++i) {
      attempts[i].user = "k" + std::to_string(round) + "-" + std::to_string(i);
      attempts[i].key = "key-" + attempts[i].user;
    }
    std::atomic<int> answered{0};
    std::atomic<bool> killed{false};
    const std::uint16_t port = service->public_port;
    std::thread burst([&] {
      test::parallel_for(kConnections, kBurst, [&](int i) {
        auto& a = attempts[static_cast<std::size_t>(i)];
        if (killed) return;  // the burst ends with the service; only what was sent is in flight
        a.sent = true;
        try {
          a.answer = test::place(port, a.user, item, a.key);
          ++answered;
        } catch (const std::exception&) {
          a.dropped = !killed;  // else the service died with it in flight
        }
      });
    });
    const bool reached = test::eventually(
        [&] { return answered >= static_cast<int>(kill_at[round] * kBurst); }, 120s);
    killed = true;
    service->signal(SIGKILL);
    const auto died = std::chrono::steady_clock::now();
    const int answered_at_kill = answered;
    burst.join();
    REQUIRE(reached);
    REQUIRE(service->wait_exit(10s).has_value());

    // The kill as the database saw it: leases held and the line, before anyone touches the item.
    const auto held_at_kill = column(
        db, "SELECT order_id::text FROM reservations WHERE item_id = $1 AND status = 'active'",
        item);
    const auto line_at_kill =
        column(db,
               "SELECT id::text FROM orders WHERE item_id = $1 AND status = 'waiting' "
               "ORDER BY waitlist_seq LIMIT " +
                   std::to_string(kStock),
               item);

    service = test::start_replica(url, "kill-" + std::to_string(round + 1));
    REQUIRE(test::eventually([&] { return test::ready(*service); }, 30s));
    const double recovered_s = seconds_since(died);

    // Every 202 is an order of its user in the tables, in a state its answer can lead to.
    std::map<int, int> statuses;
    int acknowledged = 0, in_flight = 0, lost = 0, dropped = 0;
    auto stored = stored_orders(db, item);
    for (const auto& a : attempts) {
      dropped += a.dropped ? 1 : 0;
      if (!a.answer) {
        in_flight += a.sent ? 1 : 0;
        continue;
      }
      ++statuses[a.answer->status];
      INFO(a.user << " got " << a.answer->status << " " << a.answer->body);
      // Nothing but the service's death stood in the way: every answer is an acceptance, or
      // a 503 that says when to retry.
      CHECK((a.answer->status == 202 ||
             (a.answer->status == 503 && a.answer->headers.count("retry-after") == 1)));
      if (a.answer->status != 202) continue;
      ++acknowledged;
      const auto body = a.answer->json();
      const auto found = stored.find(body["id"].get<std::string>());
      if (found == stored.end()) {
        ++lost;
        FAIL_CHECK("acknowledged order lost: " << a.answer->body);
        continue;
      }
      CHECK(found->second.user == a.user);
      // A granted unit is never taken back into the line.
      if (body["status"] == "reserved") {
        CHECK(found->second.granted);
        CHECK(found->second.status != "waiting");
      } else {
        CHECK(body["status"] == "waiting");
      }
    }
    CHECK(lost == 0);
    CHECK(dropped == 0);

    // The restarted service lapses the leases the dead one granted and moves the line up, with
    // nobody touching the item: the expiry jobs and events survived the kill.
    const bool lapsed = test::eventually(
        [&] {
          stored = stored_orders(db, item);
          const bool all_expired =
              std::all_of(held_at_kill.begin(), held_at_kill.end(),
                          [&](const auto& id) { return stored[id].status == "expired"; });
          const auto promoted = std::count_if(line_at_kill.begin(), line_at_kill.end(),
                                              [&](const auto& id) { return stored[id].granted; });
          return all_expired &&
                 promoted >= static_cast<long>(std::min(held_at_kill.size(), line_at_kill.size()));
        },
        std::chrono::seconds(kWindowS + 30));
    CHECK(lapsed);
    CHECK(!held_at_kill.empty());
    CHECK(!line_at_kill.empty());

    // Replays: the requests that got no answer, and every tenth answered one. Each returns the
    // order its key committed (byte for byte when its first answer was seen).
    std::vector<const Attempt*> replays;
    for (std::size_t i = 0; i < attempts.size(); ++i) {
      const auto& a = attempts[i];
      if ((a.sent && !a.answer) || (a.answer && a.answer->status == 202 && i % 10 == 0)) {
        replays.push_back(&a);
      }
    }
    struct Replay {
      std::optional<std::string> committed;  // the stored first answer, when there was one
      std::optional<test::HttpResult> answer;
    };
    std::vector<Replay> replayed(replays.size());
    test::parallel_for(16, static_cast<int>(replays.size()), [&](int i) {
      const auto& a = *replays[static_cast<std::size_t>(i)];
      auto& r = replayed[static_cast<std::size_t>(i)];
      try {
        pg::Connection conn(url);
        const auto record = conn.exec(
            "SELECT response::text FROM idempotency_records WHERE user_id = $1 AND key = $2",
            {a.user, a.key});
        if (record.rows() == 1) r.committed = std::string(record.get(0, 0));
        r.answer = test::place(service->public_port, a.user, item, a.key);
      } catch (const std::exception&) {  // no answer: checked below
      }
    });
    int replayed_committed = 0;
    for (std::size_t i = 0; i < replays.size(); ++i) {
      const auto& a = *replays[i];
      const auto& r = replayed[i];
      INFO(a.user << " replayed: " << (r.answer ? r.answer->body : "no answer"));
      REQUIRE(r.answer);
      CHECK(r.answer->status == 202);
      if (a.answer) {
        CHECK(r.answer->body == a.answer->body);
      } else if (r.committed) {
        ++replayed_committed;
        CHECK(r.answer->json() == json::parse(*r.committed));
      }
    }

    const auto violations = test::invariant_violations(url);
    for (const auto& v : violations) FAIL_CHECK(v);
    const long long oversell = oversold(db, item);
    CHECK(oversell == 0);

    std::vector<std::string> unlinked;
    const bool linked = test::eventually(
        [&] {
          unlinked = missing_links(db, item);
          return unlinked.empty();
        },
        30s);
    for (const auto& u : unlinked) FAIL_CHECK("payment link: " << u);
    CHECK(linked);
    const long long links =
        db.exec("SELECT count(*) FROM orders WHERE item_id = $1 AND payment_link IS NOT NULL",
                {item})
            .get_int(0, 0);
    CHECK(links > 0);  // the check above is not vacuous: links are made

    std::cout << "faults: kill -9 #" << round + 1 << " with " << answered_at_kill << " of "
              << kBurst << " answered: acknowledged " << acknowledged << ", in flight " << in_flight
              << " (committed " << replayed_committed << "), acknowledged orders lost " << lost
              << ", oversell " << oversell << ", invariant violations " << violations.size()
              << ", ready again " << recovered_s
              << " s after the kill, leases lapsed and waiters promoted " << (lapsed ? "yes" : "no")
              << ", orders with a payment link " << links << ", answers:";
    for (const auto& [status, count] : statuses) std::cout << " " << status << "×" << count;
    std::cout << std::endl;
  }
}
