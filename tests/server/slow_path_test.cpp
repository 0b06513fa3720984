// The slow path end to end, with no request driving it: leases expire and promote on time,
// payment links appear, late payments are refunded, sales close on time, and failing jobs
// retry, dead-letter and can be retried by an operator.
#include <catch2/catch.hpp>
#include <ctime>
#include <set>
#include <string>
#include <vector>

#include "support/api_client.hpp"
#include "support/invariants.hpp"
#include "support/parallel.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"
#include "support/ws_client.hpp"

using namespace flashsale::test;
using nlohmann::json;

namespace {

json order(const std::string& user, const std::string& id) {
  return get_order(shared_service().public_port, user, id).json();
}

// RFC 3339 UTC for now + seconds.
std::string in_seconds(int seconds) {
  const std::time_t t = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

json webhook(std::uint16_t port, const std::string& event, const std::string& order_id) {
  return http_request(
             port, "POST", "/v1/payments/webhook",
             json{{"event_id", event}, {"order_id", order_id}, {"outcome", "succeeded"}}.dump())
      .json();
}

}  // namespace

TEST_CASE("a lease expires on time and the next waiter gets the unit, with no request arriving") {
  const auto& svc = shared_service();
  const auto item = unique_name("expiry");
  create_item(svc.admin_port,
              {{"id", item}, {"name", "Expiry"}, {"total_stock", 1}, {"payment_window_s", 2}});
  const std::string a = place(svc.public_port, "xa", item, "k").json()["id"];
  const std::string b = place(svc.public_port, "xb", item, "k").json()["id"];
  const std::string c = place(svc.public_port, "xc", item, "k").json()["id"];
  CHECK(order("xb", b)["status"] == "waiting");
  // Only reads from here on: the expiry job alone moves the line.
  REQUIRE(
      eventually([&] { return order("xb", b)["status"] == "reserved"; }, std::chrono::seconds(6)));
  CHECK(order("xa", a)["status"] == "expired");
  CHECK(order("xa", a)["reason"] == "payment_window_over");
  CHECK(order("xc", c)["status"] == "waiting");
  CHECK(order("xc", c)["waitlist_position"] == 1);
  REQUIRE(
      eventually([&] { return order("xc", c)["status"] == "reserved"; }, std::chrono::seconds(6)));
  CHECK_THAT(http_request(svc.public_port, "GET", "/metrics").body,
             Catch::Contains("flashsale_lease_expiry_lateness_seconds_count"));
  CHECK(invariant_violations(svc.database_url).empty());
}

TEST_CASE("a reserved order gets its payment link, announced as payment_link.ready") {
  const auto& svc = shared_service();
  WsClient ws(svc.admin_port, "/admin/stream");
  REQUIRE(ws.next());  // the snapshot
  const auto item = unique_name("link");
  create_item(svc.admin_port, {{"id", item}, {"name", "Link"}, {"total_stock", 1}});
  const std::string id = place(svc.public_port, "ln", item, "k").json()["id"];
  REQUIRE(eventually([&] { return order("ln", id).contains("payment_link"); }));
  CHECK(order("ln", id)["payment_link"] == "https://payments.invalid/checkout/" + id);
  const auto frames = ws.until(
      [&](const json& e) { return e["type"] == "payment_link.ready" && e["order_id"] == id; });
  REQUIRE(!frames.empty());
  CHECK(frames.back()["data"]["payment_link"] == "https://payments.invalid/checkout/" + id);
}

TEST_CASE("orders placed at once each get their own payment link, their jobs claimed together") {
  const auto& svc = shared_service();
  const auto item = unique_name("links");
  constexpr int kOrders = 160;
  create_item(svc.admin_port, {{"id", item}, {"name", "Links"}, {"total_stock", kOrders}});
  // From 8 threads at once, so the jobs queue faster than one at a time and workers claim
  // several together (batches of up to 8 in a trial run): each link must reach its own order.
  std::vector<std::string> ids(kOrders);
  parallel_for(8, kOrders, [&](int i) {
    ids[i] = place(svc.public_port, "lk" + std::to_string(i), item, "k").json()["id"];
  });
  for (int i = 0; i < kOrders; ++i) {
    const auto user = "lk" + std::to_string(i);
    REQUIRE(eventually([&] { return order(user, ids[i]).contains("payment_link"); }));
    CHECK(order(user, ids[i])["payment_link"] == "https://payments.invalid/checkout/" + ids[i]);
  }
}

TEST_CASE("a payment after the lease ended is refunded once through the provider") {
  const auto& svc = shared_service();
  const auto item = unique_name("late");
  create_item(svc.admin_port,
              {{"id", item}, {"name", "Late"}, {"total_stock", 1}, {"payment_window_s", 1}});
  const std::string id = place(svc.public_port, "lt", item, "k").json()["id"];
  REQUIRE(
      eventually([&] { return order("lt", id)["status"] == "expired"; }, std::chrono::seconds(6)));
  const std::string event = item + "-payment";
  CHECK(webhook(svc.public_port, event, id)["result"] == "refund_required");
  CHECK(webhook(svc.public_port, event, id)["duplicate"] == true);
  auto refunds = [&] {
    int n = 0;
    // Kept in a local: a range-for over a member of a temporary would dangle.
    const auto listed = http_request(svc.admin_port, "GET", "/fake-payments/refunds").json();
    for (const auto& r : listed["refunds"]) {
      if (r["event_id"] == event) {
        CHECK(r["order_id"] == id);
        ++n;
      }
    }
    return n;
  };
  REQUIRE(eventually([&] { return refunds() == 1; }));
  // The refund's job, in the given state (all: any); it records itself done a moment after the
  // provider answered, so the done one is waited for.
  auto refund_jobs = [&](const std::string& state) {
    const auto listed =
        http_request(svc.admin_port, "GET", "/admin/jobs?state=" + state + "&limit=1000").json();
    int n = 0;
    for (const auto& j : listed["jobs"]) {
      if (j["kind"] == "refund" && j["payload"]["event_id"] == event) ++n;
    }
    return n;
  };
  REQUIRE(eventually([&] { return refund_jobs("done") == 1; }));
  CHECK(refund_jobs("all") == 1);
  CHECK(refunds() == 1);
}

TEST_CASE("a sale closes at its closing time: its waiting line expires with no request") {
  const auto& svc = shared_service();
  const auto item = unique_name("closes");
  create_item(svc.admin_port,
              {{"id", item}, {"name", "Closes"}, {"total_stock", 1}, {"closes_at", in_seconds(2)}});
  const std::string a = place(svc.public_port, "ca", item, "k").json()["id"];
  const std::string b = place(svc.public_port, "cb", item, "k").json()["id"];
  REQUIRE(
      eventually([&] { return order("cb", b)["status"] == "expired"; }, std::chrono::seconds(8)));
  CHECK(order("cb", b)["reason"] == "sale_closed");
  CHECK(order("ca", a)["status"] == "reserved");
  CHECK(invariant_violations(svc.database_url).empty());
}

TEST_CASE("a provider that keeps failing: jobs retry, dead-letter, and an operator retries them") {
  ServiceProcess service(
      {"serve"},
      {"FLASHSALE_DATABASE_URL=" + fresh_database(),
       "FLASHSALE_PAYMENTS_PROVIDER_URL=http://127.0.0.1:1/nowhere",
       "FLASHSALE_PAYMENTS_PROVIDER_TIMEOUT_MS=500",
       R"(FLASHSALE_PLUGIN={"pg_queue": {"max_attempts": 2, "backoff_base_ms": 50, "backoff_max_ms": 100}})"});
  REQUIRE(service.wait_listening());
  create_item(service.admin_port, {{"id", "dead"}, {"name", "Dead"}, {"total_stock", 1}});
  const std::string id = place(service.public_port, "dl", "dead", "k").json()["id"];
  json job;
  REQUIRE(eventually(
      [&] {
        const auto dead = http_request(service.admin_port, "GET", "/admin/jobs?state=dead").json();
        for (const auto& j : dead["jobs"]) {
          if (j["kind"] == "make_payment_link" && j["payload"]["order_id"] == id) job = j;
        }
        return !job.is_null();
      },
      std::chrono::seconds(15)));
  CHECK(job["attempts"] == 2);
  CHECK_THAT(job["last_error"].get<std::string>(), Catch::Contains("payment provider"));
  const std::string job_id =
      job["id"].is_string() ? job["id"].get<std::string>() : job["id"].dump();
  const auto retried = http_request(service.admin_port, "POST", "/admin/jobs/" + job_id + "/retry");
  CHECK(retried.status == 200);
  CHECK(http_request(service.admin_port, "POST", "/admin/jobs/" + job_id + "/retry").status == 404);
  CHECK(http_request(service.admin_port, "GET", "/admin/jobs?state=lost").status == 400);
  // Without a state: every state, and the answer says so. Its jobs are those of the four
  // states (read again until no job moved between the reads).
  const auto ids = [&](const std::string& query) {
    const auto answer =
        http_request(service.admin_port, "GET", "/admin/jobs?limit=1000" + query).json();
    std::set<std::string> out;
    for (const auto& j : answer["jobs"]) out.insert(j["id"].get<std::string>());
    return out;
  };
  CHECK(http_request(service.admin_port, "GET", "/admin/jobs").json()["state"] == "all");
  CHECK(http_request(service.admin_port, "GET", "/admin/jobs?state=dead").json()["state"] ==
        "dead");
  std::size_t listed = 0, in_states = 0;
  const bool same = eventually([&] {
    std::set<std::string> each;
    for (const char* state : {"queued", "running", "done", "dead"}) {
      each.merge(ids(std::string("&state=") + state));
    }
    const auto all = ids("");
    listed = all.size();
    in_states = each.size();
    return all.size() >= 2 && all == each;
  });
  INFO(listed << " listed, " << in_states << " in the four states");
  CHECK(same);
  // It fails again, and dies again: the queue did run it.
  REQUIRE(eventually(
      [&] {
        const auto dead = http_request(service.admin_port, "GET", "/admin/jobs?state=dead").json();
        for (const auto& j : dead["jobs"]) {
          if (j["payload"]["order_id"] == id) return true;
        }
        return false;
      },
      std::chrono::seconds(15)));
}
