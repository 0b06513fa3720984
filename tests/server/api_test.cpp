// The public and admin APIs over real HTTP: every error code of SPEC §3 is reachable, no
// malformed input writes anything, and one user never sees another's orders.
#include <algorithm>
#include <catch2/catch.hpp>
#include <flashsale/crypto.hpp>
#include <flashsale/pg/connection.hpp>
#include <map>

#include "support/api_client.hpp"
#include "support/invariants.hpp"
#include "support/parallel.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale::test;
using nlohmann::json;

namespace {

// Row counts of every table the API writes.
std::string table_sizes() {
  flashsale::pg::Connection conn(shared_service().database_url);
  return std::string(
      conn.exec("SELECT (SELECT count(*) FROM items) || '/' || (SELECT count(*) "
                "FROM orders) || '/' || (SELECT count(*) FROM reservations) || '/' "
                "|| (SELECT count(*) FROM idempotency_records) || '/' || (SELECT "
                "count(*) FROM payment_events) || '/' || (SELECT sum(available) FROM "
                "items)")
          .get(0, 0));
}

void check_error(const HttpResult& r, int status, const std::string& code) {
  INFO(r.body);
  CHECK(r.status == status);
  const auto body = json::parse(r.body, nullptr, false);
  REQUIRE(body.is_object());
  CHECK(body["error"] == code);
  CHECK_FALSE(body["message"].get<std::string>().empty());
}

}  // namespace

TEST_CASE("malformed requests answer their 4xx and write nothing") {
  const auto& svc = shared_service();
  const auto item = unique_name("strict");
  create_item(svc.admin_port, {{"id", item}, {"name", "Strict"}, {"total_stock", 5}});
  const auto order = place(svc.public_port, "owner", item, "k").json();
  const std::string oid = order["id"];
  const std::string before = table_sizes();
  const auto P = svc.public_port;
  const auto A = svc.admin_port;
  const Headers user = {{"X-User-Id", "someone"}};
  const Headers keyed = {{"X-User-Id", "someone"}, {"Idempotency-Key", "k"}};

  // Identity
  check_error(
      http_request(P, "POST", "/v1/items/" + item + "/orders", "", {{"Idempotency-Key", "k"}}), 401,
      "missing_identity");
  check_error(http_request(P, "GET", "/v1/orders/" + oid), 401, "missing_identity");
  check_error(http_request(P, "GET", "/v1/orders"), 401, "missing_identity");
  check_error(http_request(P, "POST", "/v1/orders/" + oid + "/cancel"), 401, "missing_identity");
  check_error(http_request(P, "GET", "/v1/items/" + item), 401, "missing_identity");
  check_error(http_request(P, "GET", "/v1/orders", "", {{"X-User-Id", "a"}, {"X-User-Id", "b"}}),
              400, "bad_request");
  check_error(http_request(P, "GET", "/v1/orders", "", {{"X-User-Id", std::string(300, 'u')}}), 400,
              "bad_request");
  // Placement input
  check_error(http_request(P, "POST", "/v1/items/" + item + "/orders", "", user), 400,
              "bad_request");
  check_error(http_request(P, "POST", "/v1/items/" + item + "/orders", "",
                           {{"X-User-Id", "someone"}, {"Idempotency-Key", std::string(129, 'k')}}),
              400, "bad_request");
  check_error(
      http_request(P, "POST", "/v1/items/" + item + "/orders", "",
                   {{"X-User-Id", "someone"}, {"Idempotency-Key", "a"}, {"Idempotency-Key", "b"}}),
      400, "bad_request");  // which one did the client mean?
  check_error(http_request(P, "POST", "/v1/items/" + item + "/orders", "{", keyed), 400,
              "bad_request");
  check_error(http_request(P, "POST", "/v1/items/" + item + "/orders", R"({"quantity": 2})", keyed),
              400, "bad_request");
  check_error(http_request(P, "POST", "/v1/items/" + item + "/orders", "[]", keyed), 400,
              "bad_request");
  check_error(
      http_request(P, "POST", "/v1/items/" + item + "/orders", std::string(17000, ' '), keyed), 413,
      "payload_too_large");
  check_error(http_request(P, "POST", "/v1/items/NOT_AN_ID/orders", "", keyed), 404, "not_found");
  check_error(http_request(P, "POST", "/v1/items/no-such-item/orders", "", keyed), 404,
              "not_found");
  // Orders: another user's order, bad ids, bad filters
  check_error(http_request(P, "GET", "/v1/orders/" + oid, "", user), 404, "not_found");
  check_error(http_request(P, "POST", "/v1/orders/" + oid + "/cancel", "", user), 404, "not_found");
  check_error(http_request(P, "GET", "/v1/orders/not-a-uuid", "", user), 404, "not_found");
  check_error(http_request(P, "GET", "/v1/orders?status=lost", "", user), 400, "bad_request");
  check_error(http_request(P, "GET", "/v1/orders?colour=red", "", user), 400, "bad_request");
  check_error(http_request(P, "GET", "/v1/items/nothing-here", "", user), 404, "not_found");
  // Webhook
  check_error(http_request(P, "POST", "/v1/payments/webhook", "nope"), 400, "bad_request");
  check_error(http_request(P, "POST", "/v1/payments/webhook",
                           json{{"event_id", "e"}, {"order_id", oid}}.dump()),
              400, "bad_request");
  check_error(http_request(P, "POST", "/v1/payments/webhook",
                           json{{"event_id", "e"}, {"order_id", oid}, {"outcome", "maybe"}}.dump()),
              400, "bad_request");
  check_error(
      http_request(P, "POST", "/v1/payments/webhook",
                   json{{"event_id", "e"}, {"order_id", "x"}, {"outcome", "failed"}}.dump()),
      400, "bad_request");
  // Admin: item creation and changes
  for (const std::string body :
       {"{", "[]", R"({"id": "x"})", R"({"id": "Bad Id", "name": "n", "total_stock": 1})",
        R"({"id": "ok-id", "name": "", "total_stock": 1})",
        R"({"id": "ok-id", "name": "n", "total_stock": -1})",
        R"({"id": "ok-id", "name": "n", "total_stock": "5"})",
        R"({"id": "ok-id", "name": "n", "total_stock": 5, "colour": "red"})",
        R"({"id": "ok-id", "name": "n", "total_stock": 5, "per_user_limit": 0})",
        R"({"id": "ok-id", "name": "n", "total_stock": 5, "opens_at": "tomorrow"})",
        R"({"id": "ok-id", "name": "n", "total_stock": 5, "opens_at": "2026-13-45T99:00:00Z"})",
        R"({"id": "ok-id", "name": "n", "total_stock": 5, "paused": "yes"})",
        R"({"id": "ok-id", "name": "n", "total_stock": 99999999999999999999})"}) {
    INFO(body);
    check_error(http_request(A, "POST", "/admin/items", body), 400, "bad_request");
  }
  check_error(http_request(A, "POST", "/admin/items",
                           json{{"id", item}, {"name", "Dup"}, {"total_stock", 1}}.dump()),
              409, "already_exists");
  for (const std::string body :
       {"{}", R"({"add_stock": 0})", R"({"add_stock": -3})", R"({"paused": 1})",
        R"({"closes_at": "soon"})", R"({"rename": "x"})"}) {
    INFO(body);
    check_error(http_request(A, "PATCH", "/admin/items/" + item, body), 400, "bad_request");
  }
  check_error(http_request(A, "PATCH", "/admin/items/no-such-item", R"({"paused": true})"), 404,
              "not_found");
  check_error(http_request(A, "GET", "/admin/items/" + item + "/waitlist?limit=0"), 400,
              "bad_request");
  check_error(http_request(A, "GET", "/admin/items/" + item + "/waitlist?limit=abc"), 400,
              "bad_request");
  check_error(http_request(A, "GET", "/admin/items/no-such-item/leases"), 404, "not_found");
  check_error(http_request(A, "POST", "/admin/orders/not-a-uuid/expire"), 404, "not_found");
  check_error(http_request(A, "POST", "/admin/orders/00000000-0000-0000-0000-000000000000/expire"),
              404, "not_found");
  for (const char* target :
       {"/admin/orders", "/admin/orders?user=", "/admin/orders?user=a&status=gone",
        "/admin/orders?user=a&item=Bad!", "/admin/orders?user=a&page=2"}) {
    INFO(target);
    check_error(http_request(A, "GET", target), 400, "bad_request");
  }
  for (const std::string offset : {"-1", "x", "1000000001", "99999999999"}) {
    INFO(offset);
    check_error(http_request(A, "GET", "/admin/items/" + item + "/waitlist?offset=" + offset), 400,
                "bad_request");
  }
  check_error(http_request(A, "GET", "/admin/orders/not-a-uuid"), 404, "not_found");
  check_error(http_request(A, "GET", "/admin/orders/00000000-0000-0000-0000-000000000000"), 404,
              "not_found");
  check_error(http_request(A, "POST", "/admin/orders/00000000-0000-0000-0000-000000000000/cancel"),
              404, "not_found");
  // Wrong methods and unknown routes on both listeners
  check_error(http_request(P, "DELETE", "/v1/orders/" + oid, "", user), 405, "method_not_allowed");
  check_error(http_request(A, "POST", "/admin/nothing"), 404, "not_found");

  CHECK(table_sizes() == before);
  CHECK(get_order(P, "owner", oid).json()["status"] == "reserved");
}

TEST_CASE("an operator finds an order, its user's orders and its place in line, and ends it") {
  const auto& svc = shared_service();
  const auto P = svc.public_port;
  const auto A = svc.admin_port;
  const auto item = unique_name("operator");
  create_item(A, {{"id", item}, {"name", "Operator"}, {"total_stock", 1}});
  // One holder, then a line of five.
  const std::string held = place(P, "op-0", item, "k").json()["id"];
  std::vector<std::string> line;
  for (int i = 1; i <= 5; ++i) {
    line.push_back(place(P, "op-" + std::to_string(i), item, "k").json()["id"]);
  }
  // The line page by page: positions continue across pages.
  const auto page = [&](int offset, int limit) {
    return http_request(A, "GET",
                        "/admin/items/" + item + "/waitlist?offset=" + std::to_string(offset) +
                            "&limit=" + std::to_string(limit))
        .json();
  };
  const auto second = page(2, 2);
  CHECK(second["waiting"] == 5);
  CHECK(second["offset"] == 2);
  REQUIRE(second["waitlist"].size() == 2);
  CHECK(second["waitlist"][0]["position"] == 3);
  CHECK(second["waitlist"][0]["order_id"] == line[2]);
  CHECK(second["waitlist"][1]["position"] == 4);
  CHECK(page(4, 10)["waitlist"].size() == 1);
  CHECK(page(5, 10)["waitlist"].empty());
  CHECK(page(0, 100)["waitlist"].size() == 5);

  // One order of any user: its place in line, its user, its history.
  auto order = http_request(A, "GET", "/admin/orders/" + line[3]).json();
  CHECK(order["user_id"] == "op-4");
  CHECK(order["status"] == "waiting");
  CHECK(order["waitlist_position"] == 4);
  REQUIRE(order["history"].size() == 1);
  CHECK(order["history"][0]["what"] == "placed");
  CHECK(order["history"][0]["status"] == "waiting");
  // A user's orders, as that user would list them.
  const auto mine = http_request(A, "GET", "/admin/orders?user=op-4&item=" + item).json();
  REQUIRE(mine["orders"].size() == 1);
  CHECK(mine["orders"][0]["id"] == line[3]);
  CHECK(http_request(A, "GET", "/admin/orders?user=nobody-at-all").json()["orders"].empty());

  // The operator cancels the holder: the head of the line is promoted.
  const auto cancelled = http_request(A, "POST", "/admin/orders/" + held + "/cancel");
  CHECK(cancelled.status == 200);
  CHECK(cancelled.json()["status"] == "cancelled");
  CHECK(cancelled.json()["reason"] == "cancelled_by_operator");
  check_error(http_request(A, "POST", "/admin/orders/" + held + "/cancel"), 409,
              "invalid_transition");
  const auto history = http_request(A, "GET", "/admin/orders/" + held).json()["history"];
  REQUIRE(history.size() == 2);
  CHECK(history[0]["what"] == "placed");
  CHECK(history[0]["status"] == "reserved");
  CHECK(history[1]["what"] == "cancelled");
  CHECK(history[1]["reason"] == "cancelled_by_operator");
  const auto head = http_request(A, "GET", "/admin/orders/" + line[0]).json();
  CHECK(head["status"] == "reserved");
  REQUIRE(head["history"].size() == 2);
  CHECK(head["history"][1]["what"] == "promoted");
  CHECK(head["history"][1]["expires_at"].is_string());
  // Its user pays, once refused and then accepted: each callback is in the history, then the end.
  for (const char* outcome : {"failed", "succeeded"}) {
    const auto paid = http_request(
        P, "POST", "/v1/payments/webhook",
        json{{"event_id", item + "-" + outcome}, {"order_id", line[0]}, {"outcome", outcome}}
            .dump());
    CHECK(paid.status == 200);
  }
  std::vector<std::string> steps;
  const auto paid_order = http_request(A, "GET", "/admin/orders/" + line[0]).json();
  for (const auto& h : paid_order["history"]) {
    steps.push_back(h["what"].get<std::string>());
  }
  CHECK(steps == std::vector<std::string>{"placed", "promoted", "payment_failed",
                                          "payment_succeeded", "confirmed"});
  // A waiting order too; the line closes up behind it.
  CHECK(http_request(A, "POST", "/admin/orders/" + line[2] + "/cancel").json()["status"] ==
        "cancelled");
  order = http_request(A, "GET", "/admin/orders/" + line[3]).json();
  CHECK(order["waitlist_position"] == 2);
  CHECK(page(0, 100)["waiting"] == 3);
  CHECK(admin_item(A, item)["available"] == 0);
}

TEST_CASE("each item's placements per second, by outcome, with their p99, for the dashboard") {
  const auto& svc = shared_service();
  const auto A = svc.admin_port;
  const auto item = unique_name("rates");
  create_item(A, {{"id", item}, {"name", "Rates"}, {"total_stock", 2}, {"waitlist_limit", 1}});
  // Two reserved, one waiting, then a full line; and a user past the per-user limit.
  for (const char* user : {"ra", "rb", "rc", "rd"}) place(svc.public_port, user, item, "k");
  place(svc.public_port, "ra", item, "second-key");
  const auto rates = http_request(A, "GET", "/admin/items/" + item + "/placements").json();
  CHECK(rates["item_id"] == item);
  std::map<std::string, int> outcomes;
  for (const auto& second : rates["seconds"]) {
    for (const auto& [outcome, n] : second["outcomes"].items()) outcomes[outcome] += n.get<int>();
    CHECK(second["p99_ms"].get<double>() > 0);
  }
  CHECK(outcomes ==
        std::map<std::string, int>{{"accepted", 3}, {"sold_out", 1}, {"limit_exceeded", 1}});
  CHECK(http_request(A, "GET", "/admin/items/" + unique_name("never") + "/placements")
            .json()["seconds"]
            .empty());
  check_error(http_request(A, "GET", "/admin/items/Bad!/placements"), 404, "not_found");
  check_error(http_request(A, "GET", "/admin/items/" + item + "/placements?since=1"), 400,
              "bad_request");
}

TEST_CASE("each item's events per second, from before the dashboard connected") {
  const auto& svc = shared_service();
  const auto A = svc.admin_port;
  const auto item = unique_name("activity");
  create_item(A, {{"id", item}, {"name", "Activity"}, {"total_stock", 1}});
  // One reserved and one waiting; an operator's expiry of the lease promotes the waiting one.
  const std::string held = place(svc.public_port, "aa", item, "k").json()["id"];
  place(svc.public_port, "ab", item, "k");
  REQUIRE(http_request(A, "POST", "/admin/orders/" + held + "/expire").status == 200);
  const auto totals = [&](const std::string& query) {
    std::map<std::string, int> sum;
    const auto rates = http_request(A, "GET", "/admin/activity" + query).json();
    for (const auto& second : rates["seconds"]) {
      for (const char* what : {"joins", "reservations", "promotions", "expiries"}) {
        sum[what] += second[what].get<int>();
      }
    }
    return sum;
  };
  const std::map<std::string, int> expected = {
      {"joins", 2}, {"reservations", 1}, {"promotions", 1}, {"expiries", 1}};
  CHECK(eventually([&] { return totals("?item=" + item) == expected; }));
  const auto rates = http_request(A, "GET", "/admin/activity?item=" + item).json();
  CHECK(rates["item_id"] == item);
  CHECK(rates["window_s"] == 300);
  // Every item's: at least this one's.
  CHECK(totals("")["joins"] >= 2);
  CHECK(http_request(A, "GET", "/admin/activity").json()["item_id"].is_null());
  CHECK(http_request(A, "GET", "/admin/activity?item=" + unique_name("never"))
            .json()["seconds"]
            .empty());
  check_error(http_request(A, "GET", "/admin/activity?item=Bad!"), 400, "bad_request");
  check_error(http_request(A, "GET", "/admin/activity?since=1"), 400, "bad_request");
}

TEST_CASE("a value the database would refuse answers 400 in our words, never the database's") {
  const auto& svc = shared_service();
  const auto A = svc.admin_port;
  const auto item = unique_name("bounds");
  create_item(A, {{"id", item}, {"name", "Bounds"}, {"total_stock", 1000000000}});
  const auto later = unique_name("later");
  create_item(
      A,
      {{"id", later}, {"name", "Later"}, {"total_stock", 1}, {"opens_at", "2999-01-01T00:00:00Z"}});
  // Stock up to the integer column's limit is fine: 2e9 < 2^31.
  CHECK(http_request(A, "PATCH", "/admin/items/" + item, R"({"add_stock": 1000000000})").status ==
        200);
  const std::string before = table_sizes();

  // Not what the database says, not the statement: no "ERROR:", no "$7", no function names.
  const auto in_our_words = [](const HttpResult& r) {
    INFO(r.body);
    check_error(r, 400, "bad_request");
    for (const char* leak : {"ERROR", "CONTEXT", "$", "fs_", "portal", "for type"}) {
      CHECK_THAT(r.body, !Catch::Contains(leak));
    }
  };
  // Times that are no real instant: 30 February, month 13, hour 24 or 25, second 60, year 0,
  // an offset of 99 hours.
  for (const std::string t :
       {"2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-24T24:00:00Z",
        "2026-11-24T10:00:60Z", "0000-01-01T00:00:00Z", "2026-11-24T10:00:00+99:00",
        "2026-11-24T25:00:00Z"}) {
    INFO(t);
    in_our_words(http_request(
        A, "POST", "/admin/items",
        json{{"id", unique_name("t")}, {"name", "T"}, {"total_stock", 1}, {"opens_at", t}}.dump()));
    in_our_words(http_request(A, "PATCH", "/admin/items/" + item, json{{"closes_at", t}}.dump()));
  }
  // A sale that closes before it opens, made so or changed so.
  in_our_words(http_request(A, "POST", "/admin/items",
                            json{{"id", unique_name("t")},
                                 {"name", "T"},
                                 {"total_stock", 1},
                                 {"opens_at", "2030-01-02T00:00:00Z"},
                                 {"closes_at", "2030-01-01T00:00:00Z"}}
                                .dump()));
  in_our_words(http_request(A, "PATCH", "/admin/items/" + later,
                            R"({"closes_at": "2998-12-31T00:00:00Z"})"));
  // Past the integer column.
  in_our_words(http_request(A, "PATCH", "/admin/items/" + item, R"({"add_stock": 1000000000})"));

  CHECK(http_request(A, "GET", "/admin/items/" + item).json()["total_stock"] == 2000000000);
  CHECK(table_sizes() == before);
}

TEST_CASE("/readyz tells public clients whether, and only operators why") {
  const auto& svc = shared_service();
  REQUIRE(eventually([&] {  // both answers about the same moment: every plugin healthy
    return http_request(svc.public_port, "GET", "/readyz").status == 200 &&
           http_request(svc.admin_port, "GET", "/readyz").status == 200;
  }));
  const auto open = http_request(svc.public_port, "GET", "/readyz").json();
  const auto ops = http_request(svc.admin_port, "GET", "/readyz").json();
  REQUIRE(open["plugins"].size() == ops["plugins"].size());
  for (std::size_t i = 0; i < open["plugins"].size(); ++i) {
    CHECK_FALSE(open["plugins"][i].contains("detail"));
    CHECK(ops["plugins"][i]["detail"].is_string());
    CHECK(open["plugins"][i]["ok"] == ops["plugins"][i]["ok"]);
  }
}

TEST_CASE("every sale rule answers its own 409 code") {
  const auto& svc = shared_service();
  const auto P = svc.public_port;
  const auto A = svc.admin_port;
  const auto full = unique_name("full");
  create_item(A, {{"id", full}, {"name", "Full"}, {"total_stock", 1}, {"waitlist_limit", 1}});
  CHECK(place(P, "f1", full, "k").json()["status"] == "reserved");
  CHECK(place(P, "f2", full, "k").json()["status"] == "waiting");
  check_error(place(P, "f3", full, "k"), 409, "sold_out");

  const auto later = unique_name("later");
  create_item(
      A,
      {{"id", later}, {"name", "Later"}, {"total_stock", 1}, {"opens_at", "2999-01-01T00:00:00Z"}});
  check_error(place(P, "u", later, "k"), 409, "sale_not_open");

  const auto over = unique_name("over");
  create_item(
      A,
      {{"id", over}, {"name", "Over"}, {"total_stock", 1}, {"closes_at", "2020-01-01T00:00:00Z"}});
  check_error(place(P, "u", over, "k"), 409, "sale_closed");

  const auto paused = unique_name("paused");
  create_item(A, {{"id", paused}, {"name", "Paused"}, {"total_stock", 1}});
  CHECK(
      http_request(A, "PATCH", "/admin/items/" + paused, R"({"paused": true})").json()["paused"] ==
      true);
  check_error(place(P, "u", paused, "k"), 409, "sale_paused");
  CHECK(http_request(A, "PATCH", "/admin/items/" + paused, R"({"paused": false})").status == 200);
  // A rejected placement is not remembered: the same key works once the rule allows it.
  CHECK(place(P, "u", paused, "k").status == 202);
  check_error(place(P, "u", paused, "k2"), 409, "limit_exceeded");

  const auto first = place(P, "u2", paused, "k").json();
  CHECK(cancel(P, "u2", first["id"]).status == 200);
  const auto again = cancel(P, "u2", first["id"]);
  check_error(again, 409, "invalid_transition");
  CHECK(again.json()["current"]["status"] == "cancelled");
  check_error(
      http_request(A, "POST", "/admin/orders/" + first["id"].get<std::string>() + "/expire"), 409,
      "invalid_transition");
  CHECK(invariant_violations(svc.database_url).empty());
}

TEST_CASE("a full placement queue answers 503 overloaded with Retry-After") {
  ServiceProcess service({"serve"},
                         {"FLASHSALE_DATABASE_URL=" + fresh_database(),
                          R"(FLASHSALE_PLUGIN={"postgres": {"max_pending": 1, "max_batch": 1}})"});
  REQUIRE(service.wait_listening());
  create_item(service.admin_port, {{"id", "crowd"}, {"name", "Crowd"}, {"total_stock", 1000}});
  std::vector<HttpResult> results(200);
  parallel_for(50, 200, [&](int i) {
    results[i] = place(service.public_port, "c" + std::to_string(i), "crowd", "k");
  });
  int overloaded = 0, placed = 0;
  for (const auto& r : results) {
    if (r.status == 202) ++placed;
    if (r.status == 503) {
      ++overloaded;
      CHECK(r.json()["error"] == "overloaded");
      CHECK(r.headers.at("retry-after") == "1");
    }
  }
  CHECK(overloaded > 0);
  CHECK(placed + overloaded == 200);
}

TEST_CASE("with a webhook secret, only correctly signed callbacks count") {
  const std::string url = fresh_database();
  ServiceProcess service(
      {"serve"}, {"FLASHSALE_DATABASE_URL=" + url, "FLASHSALE_PAYMENTS_WEBHOOK_SECRET=s3cret"});
  REQUIRE(service.wait_listening());
  create_item(service.admin_port, {{"id", "signed"}, {"name", "Signed"}, {"total_stock", 1}});
  const std::string oid = place(service.public_port, "p", "signed", "k").json()["id"];
  const std::string body =
      json{{"event_id", "ev-1"}, {"order_id", oid}, {"outcome", "succeeded"}}.dump();
  check_error(http_request(service.public_port, "POST", "/v1/payments/webhook", body), 401,
              "bad_signature");
  check_error(http_request(service.public_port, "POST", "/v1/payments/webhook", body,
                           {{"X-Signature", "00"}}),
              401, "bad_signature");
  flashsale::pg::Connection conn(url);
  CHECK(conn.exec("SELECT count(*) FROM payment_events").get_int(0, 0) == 0);
  // Upper-case hex is the same signature.
  std::string signature = "sha256=" + flashsale::crypto::hmac_sha256_hex("s3cret", body);
  std::transform(signature.begin() + 7, signature.end(), signature.begin() + 7,
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const auto ok = http_request(service.public_port, "POST", "/v1/payments/webhook", body,
                               {{"X-Signature", signature}});
  CHECK(ok.status == 200);
  CHECK(ok.json()["result"] == "confirmed");
}
