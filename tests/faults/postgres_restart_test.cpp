// PostgreSQL taken away under load: an immediate-mode restart (a crash, as the server sees it)
// and a 20 s stop. Clients get business answers or 503 with Retry-After, never a 500 and never
// silence; the service comes back by itself within seconds; no acknowledged order is lost and
// no committed order misses its events on the admin stream.
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <flashsale/pg/connection.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "embedded_postgres.hpp"
#include "process.hpp"
#include "support/api_client.hpp"
#include "support/invariants.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"
#include "support/ws_client.hpp"

using namespace flashsale;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr auto kAnswerBound = 10s;    // every request is answered within this, outage or not
constexpr auto kRecoveryBound = 10s;  // ready and taking orders again, by itself, once PG is back
constexpr int kClients = 16;
constexpr int kStock = 300;  // so the line forms during the load

// pg_ctl on `pg`'s cluster, with the binaries of the version that made it, as the owner of its
// data folder (PostgreSQL refuses to run as root).
void pg_ctl(const EmbeddedPostgres& pg, const std::vector<std::string>& args) {
  std::string version;
  std::ifstream(pg.dir() / "PG_VERSION") >> version;
  std::vector<std::string> argv = {"/usr/lib/postgresql/" + version + "/bin/pg_ctl", "-D",
                                   pg.dir().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  struct stat folder {};
  if (geteuid() == 0 && stat(pg.dir().c_str(), &folder) == 0) {
    const passwd* owner = getpwuid(folder.st_uid);
    REQUIRE(owner != nullptr);
    argv.insert(argv.begin(), {"runuser", "-u", owner->pw_name, "--"});
  }
  std::string output;
  const int code = process::run(argv, output);
  INFO(process::describe(argv) << ": " << output);
  REQUIRE(code == 0);
}

test::HttpResult place(std::uint16_t port, const std::string& user, const std::string& item) {
  return test::http_request(port, "POST", "/v1/items/" + item + "/orders", "",
                            {{"X-User-Id", user}, {"Idempotency-Key", "key-" + user}},
                            kAnswerBound);
}

// One placement of the load and what its client saw (status 0: no answer within kAnswerBound).
struct Placement {
  std::string user;
  test::HttpResult answer;
  double seconds = 0;  // until the answer, or the failure
};

// Buyers placing orders until stopped, each order a new user and key, paced like people and
// honouring Retry-After.
class Load {
 public:
  Load(std::uint16_t port, const std::string& item) {
    for (int c = 0; c < kClients; ++c) {
      clients_.emplace_back([this, port, item, c] {
        for (int n = 0; !stop_; ++n) {
          const std::string user = "b" + std::to_string(c) + "-" + std::to_string(n);
          Placement p{user, {}, 0};
          const auto start = std::chrono::steady_clock::now();
          try {
            p.answer = place(port, user, item);
          } catch (const std::exception&) {
          }
          p.seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          const auto& answer = p.answer;
          auto pause = 20ms;
          if (answer.status == 503 && answer.headers.count("retry-after") == 1) {
            pause = std::chrono::seconds(std::stoi(answer.headers.at("retry-after")));
          }
          {
            std::lock_guard lock(mutex_);
            placements_.push_back(std::move(p));
          }
          std::this_thread::sleep_for(pause);
        }
      });
    }
  }
  ~Load() { stop(); }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  /// Stops the buyers and returns every placement they made.
  std::vector<Placement> stop() {
    stop_ = true;
    for (auto& c : clients_) {
      if (c.joinable()) c.join();
    }
    return placements_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Placement> placements_;
  std::vector<std::thread> clients_;
};

// Seconds from now until the service is ready and takes a new order, with nobody's help.
double seconds_to_recover(const test::ServiceProcess& service, const std::string& item) {
  const auto start = std::chrono::steady_clock::now();
  const std::string user = test::unique_name("recovery-probe");
  const bool back = test::eventually(
      [&] {
        try {
          return test::ready(service) && place(service.public_port, user, item).status == 202;
        } catch (const std::exception&) {
          return false;
        }
      },
      60s);
  REQUIRE(back);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("PostgreSQL restarts under load: business answers or 503, self-recovery, no loss") {
  EmbeddedPostgres pg({test::temp_dir() / "pg", {}});
  auto service = test::start_replica(pg.url(), "pg-faults");
  REQUIRE(test::eventually([&] { return test::ready(*service); }, 30s));
  // An operator watching every event throughout: what it got is checked against the tables.
  test::WsClient watcher(service->admin_port, "/admin/stream");
  REQUIRE(watcher.next().value()["type"] == "snapshot");
  const std::string item = "pg-outage";
  test::create_item(service->admin_port,
                    {{"id", item}, {"name", "Outage"}, {"total_stock", kStock}});

  Load load(service->public_port, item);
  std::this_thread::sleep_for(2s);  // load before the fault

  // A crash as the service sees it: every connection cut, the server back after recovery.
  pg_ctl(pg, {"-l", (pg.dir() / "server.log").string(), "-m", "immediate", "-w", "-t", "60",
              "restart"});
  const double crash_recovery_s = seconds_to_recover(*service, item);
  CHECK(crash_recovery_s < std::chrono::duration<double>(kRecoveryBound).count());
  std::this_thread::sleep_for(2s);

  // A 20 s outage: the length of the outage is the fault itself, not a wait for something.
  pg_ctl(pg, {"-m", "fast", "-w", "stop"});
  CHECK(test::eventually([&] { return !test::ready(*service); }, 15s));
  std::this_thread::sleep_for(20s);
  pg_ctl(pg, {"-l", (pg.dir() / "server.log").string(), "-w", "-t", "60", "start"});
  const double outage_recovery_s = seconds_to_recover(*service, item);
  CHECK(outage_recovery_s < std::chrono::duration<double>(kRecoveryBound).count());
  std::this_thread::sleep_for(2s);
  const auto placements = load.stop();

  std::map<int, int> statuses;
  std::vector<std::string> acknowledged;  // order ids answered 202
  double slowest_s = 0;
  for (const auto& [user, answer, seconds] : placements) {
    ++statuses[answer.status];
    slowest_s = std::max(slowest_s, seconds);
    INFO(user << " got " << answer.status << " " << answer.body);
    const bool business = answer.status == 202 || answer.status == 200 || answer.status == 409;
    CHECK((business || (answer.status == 503 && answer.headers.count("retry-after") == 1)));
    if (answer.status == 202) acknowledged.push_back(answer.json()["id"]);
  }
  CHECK(statuses[503] > 0);  // the load did meet the outage
  CHECK(acknowledged.size() > kStock);

  const auto violations = test::invariant_violations(pg.url());
  for (const auto& v : violations) FAIL_CHECK(v);
  pg::Connection db(pg.url());
  struct Stored {
    std::string status;
    bool granted = false, linked = false;  // ever held a unit; has its payment link
  };
  std::map<std::string, Stored> stored;
  const auto rows = db.exec(
      "SELECT o.id::text, o.status, r.id IS NOT NULL, o.payment_link IS NOT NULL FROM orders o "
      "LEFT JOIN reservations r ON r.order_id = o.id WHERE o.item_id = $1",
      {item});
  for (int r = 0; r < rows.rows(); ++r) {
    stored[std::string(rows.get(r, 0))] = {std::string(rows.get(r, 1)), rows.get(r, 2) == "t",
                                           rows.get(r, 3) == "t"};
  }
  int lost = 0;
  for (const auto& id : acknowledged) lost += stored.count(id) == 0 ? 1 : 0;
  CHECK(lost == 0);
  const long long oversell =
      db.exec(
            "SELECT greatest(0, count(*) - $2::int) FROM reservations WHERE item_id = $1 "
            "AND status IN ('active', 'consumed')",
            {item, std::to_string(kStock)})
          .get_int(0, 0);
  CHECK(oversell == 0);

  // Every committed order's events reached the operator: the one of its present state,
  // order.reserved if it ever held a unit, payment_link.ready if it has its link. A marker
  // item's event comes after all of them.
  const std::string marker = test::unique_name("marker");
  test::create_item(service->admin_port, {{"id", marker}, {"name", "Marker"}, {"total_stock", 0}});
  const auto frames = watcher.until([&](const json& e) { return e["item_id"] == marker; }, 60s);
  REQUIRE(!frames.empty());
  REQUIRE(frames.back()["item_id"] == marker);
  std::map<std::string, std::set<std::string>> seen;  // order id -> event types
  std::set<std::string> event_ids;
  for (const auto& f : frames) {
    if (f["item_id"] != item || !f.contains("order_id")) continue;
    event_ids.insert(f["event_id"].get<std::string>());
    seen[f["order_id"].get<std::string>()].insert(f["type"].get<std::string>());
  }
  int events_lost = 0;
  for (const auto& [id, order] : stored) {
    const auto& types = seen[id];
    const bool complete = types.count("order." + order.status) == 1 &&
                          (!order.granted || types.count("order.reserved") == 1) &&
                          (!order.linked || types.count("payment_link.ready") == 1);
    if (!complete) {
      ++events_lost;
      FAIL_CHECK("order " << id << " (" << order.status << ") has events only of types "
                          << json(types).dump());
    }
  }
  CHECK(events_lost == 0);

  std::cout << "faults: PostgreSQL restart -m immediate and 20 s stop under load: answers";
  for (const auto& [status, count] : statuses) std::cout << " " << status << "×" << count;
  std::cout << ", acknowledged " << acknowledged.size() << ", acknowledged orders lost " << lost
            << ", oversell " << oversell << ", invariant violations " << violations.size()
            << ", orders " << stored.size() << ", events " << event_ids.size() << ", events lost "
            << events_lost << ", slowest answer " << slowest_s << " s, ready and taking orders "
            << crash_recovery_s << " s after PostgreSQL was back from the crash restart and "
            << outage_recovery_s << " s after the 20 s outage" << std::endl;
  service->signal(SIGTERM);
  CHECK(service->wait_exit() == 0);
}
