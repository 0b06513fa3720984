// Many replicas on one database (SPEC §10), without an event stream: every replica gets ready
// and serves both APIs, exactly one reads the write-ahead log, and when it is killed (-9) a
// standby takes over and the events of what was committed meanwhile still come.
#include <signal.h>

#include <catch2/catch.hpp>
#include <memory>
#include <regex>

#include "support/api_client.hpp"
#include "support/http_client.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using test::ready;

json cluster(const test::ServiceProcess& s) {
  const auto r = test::http_request(s.admin_port, "GET", "/admin/cluster");
  REQUIRE(r.status == 200);
  return r.json();
}

// flashsale_cdc_events_total{type="<type>"} on this replica, 0 when it has none.
long long decoded(const test::ServiceProcess& s, const std::string& type) {
  const std::regex line("flashsale_cdc_events_total\\{type=\"" + type + "\"\\} (\\d+)");
  std::smatch m;
  const std::string text = test::http_request(s.admin_port, "GET", "/metrics").body;
  return std::regex_search(text, m, line) ? std::stoll(m[1]) : 0;
}

}  // namespace

TEST_CASE("replicas on one database all get ready; one leads the log; a standby takes over") {
  const std::string url = test::fresh_database();
  auto a = test::start_replica(url, "node-a");
  auto b = test::start_replica(url, "node-b");
  REQUIRE(test::eventually([&] { return ready(*a) && ready(*b); }, 30s));

  // Both see both, and agree on one leader.
  json view;
  REQUIRE(test::eventually(
      [&] {
        view = cluster(*b);
        return view["nodes"].size() == 2 && view["leader"].is_string();
      },
      10s));
  INFO(view.dump());
  CHECK(view["node_id"] == "node-b");
  CHECK(view["nodes"][0]["node_id"] == "node-a");
  CHECK(view["nodes"][1]["node_id"] == "node-b");
  CHECK(view["nodes"][1]["this"] == true);
  CHECK(view["leader_since"].is_string());
  CHECK(cluster(*a)["leader"] == view["leader"]);
  const bool a_leads = view["leader"] == "node-a";
  auto& leader = a_leads ? a : b;
  auto& standby = a_leads ? b : a;
  const std::string standby_id = a_leads ? "node-b" : "node-a";
  CHECK_THAT(standby->log(),
             Catch::Contains("standing by: " + std::string(view["leader"]) + " reads the log"));
  CHECK_THAT(standby->log(), Catch::Contains(" " + standby_id + " INFO  host: "));
  CHECK(test::http_request(standby->admin_port, "GET", "/admin/plugins").json()["node_id"] ==
        standby_id);

  // An order placed through the standby is decoded by the leader only, and gets its payment
  // link (planned by the leader's job planner, run by either replica's scheduler).
  const std::string item = test::unique_name("replicas");
  test::create_item(standby->admin_port,
                    {{"id", item}, {"name", "Replicated"}, {"total_stock", 5}});
  auto placed = test::place(standby->public_port, "u1", item, "k1");
  REQUIRE(placed.status == 202);
  const std::string first_order = placed.json()["id"];
  auto has_link = [&](const test::ServiceProcess& via, const std::string& user,
                      const std::string& order) {
    return test::get_order(via.public_port, user, order).json().contains("payment_link");
  };
  REQUIRE(test::eventually([&] { return has_link(*standby, "u1", first_order); }, 10s));
  CHECK(decoded(*leader, "order.reserved") >= 1);
  CHECK(decoded(*standby, "order.reserved") == 0);

  // The leader dies; an order placed while nobody leads still gets decoded and its link.
  leader->signal(SIGKILL);
  REQUIRE(leader->wait_exit(10s).has_value());
  placed = test::place(standby->public_port, "u2", item, "k2");
  REQUIRE(placed.status == 202);
  const std::string second_order = placed.json()["id"];
  REQUIRE(test::eventually([&] { return cluster(*standby)["leader"] == standby_id; }, 10s));
  REQUIRE(test::eventually([&] { return has_link(*standby, "u2", second_order); }, 10s));
  CHECK(decoded(*standby, "order.reserved") >= 1);
  CHECK_THAT(standby->log(), Catch::Contains("leading now: streaming slot"));
  CHECK(ready(*standby));
  view = cluster(*standby);
  CHECK(view["nodes"].size() == 1);
}

TEST_CASE("a second replica on the embedded default's folder is told to use its database URL") {
  const auto dir = test::temp_dir() / "pg";
  test::ServiceProcess first({"serve"}, {"FLASHSALE_DATABASE_EMBEDDED_DIR=" + dir.string(),
                                         "FLASHSALE_CLUSTER_NODE_ID=first"});
  REQUIRE(first.wait_listening());
  REQUIRE(test::eventually([&] { return ready(first); }, 30s));

  // Same folder: refused in one line that says what to do, and the first one's database lives.
  test::ServiceProcess same({"serve"}, {"FLASHSALE_DATABASE_EMBEDDED_DIR=" + dir.string()});
  CHECK(same.wait_exit() == 1);
  const std::regex advice(
      "belongs to a flashsale that is running; .*FLASHSALE_DATABASE_URL=(\\S+)\\)");
  std::smatch m;
  const std::string said = same.log();
  INFO(said);
  REQUIRE(std::regex_search(said, m, advice));
  CHECK(ready(first));

  // Following the advice: both answer /readyz 200.
  const auto second = test::start_replica(m[1].str(), "second");
  CHECK(test::eventually([&] { return ready(*second); }, 30s));
  CHECK(ready(first));
  CHECK(cluster(*second)["nodes"].size() == 2);
}
