// Domain events end to end: committed changes read from the write-ahead log by the pg_wal
// plugin reach an operator on GET /admin/stream, once each, in commit order, and survive a
// killed replication connection.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <flashsale/pg/connection.hpp>
#include <map>
#include <set>
#include <thread>

#include "support/api_client.hpp"
#include "support/parallel.hpp"
#include "support/scrape.hpp"
#include "support/service.hpp"
#include "support/ws_client.hpp"

using namespace flashsale::test;
using nlohmann::json;

namespace {

// Connects to the admin stream and consumes the snapshot.
std::unique_ptr<WsClient> admin_stream() {
  auto ws = std::make_unique<WsClient>(shared_service().admin_port, "/admin/stream");
  const auto snapshot = ws->next();
  REQUIRE(snapshot);
  REQUIRE((*snapshot)["type"] == "snapshot");
  REQUIRE((*snapshot)["items"].is_array());
  REQUIRE((*snapshot)["server_time"].is_string());
  return ws;
}

// Creates a marker item and returns every frame up to its item.created: everything committed
// before it has been delivered by then.
std::vector<json> drain(WsClient& ws) {
  const auto marker = unique_name("marker");
  create_item(shared_service().admin_port,
              {{"id", marker}, {"name", "Marker"}, {"total_stock", 0}});
  auto frames =
      ws.until([&](const json& e) { return e["type"] == "item.created" && e["item_id"] == marker; },
               std::chrono::seconds(30));
  INFO("frames read " << frames.size() << "; the stream's close reason: " << ws.close_reason());
  REQUIRE(!frames.empty());
  REQUIRE(frames.back()["item_id"] == marker);
  return frames;
}

std::vector<json> of_item(const std::vector<json>& frames, const std::string& item) {
  std::vector<json> out;
  for (const auto& f : frames) {
    if (f["item_id"] == item) out.push_back(f);
  }
  return out;
}

void check_ids(const std::vector<json>& frames) {
  std::set<std::string> ids;
  for (const auto& f : frames) {
    REQUIRE(f.contains("event_id"));
    CHECK(ids.insert(f["event_id"].get<std::string>()).second);
  }
}

}  // namespace

TEST_CASE("the admin stream sends a snapshot, then each lifecycle change in commit order") {
  const auto& svc = shared_service();
  auto ws = admin_stream();
  const auto item = unique_name("events");
  create_item(svc.admin_port, {{"id", item}, {"name", "Events"}, {"total_stock", 1}});
  const std::string a = place(svc.public_port, "ea", item, "k").json()["id"];
  const std::string b = place(svc.public_port, "eb", item, "k").json()["id"];
  REQUIRE(cancel(svc.public_port, "ea", a).status == 200);
  const auto frames = of_item(drain(*ws), item);
  check_ids(frames);

  std::vector<std::string> orders;  // "type:order" of the order events, in stream order
  for (const auto& f : frames) {
    CHECK(f["committed_at"].get<std::string>().size() == 24);
    if (f["type"].get<std::string>().rfind("order.", 0) == 0) {
      orders.push_back(f["type"].get<std::string>() + ":" + (f["order_id"] == a ? "a" : "b"));
    }
  }
  CHECK(orders == std::vector<std::string>{"order.reserved:a", "order.waiting:b",
                                           "order.cancelled:a", "order.reserved:b"});
  REQUIRE(frames.front()["type"] == "item.created");
  for (const auto& f : frames) {
    if (f["type"] == "order.reserved") {
      CHECK(f["data"]["promoted"] == (f["order_id"] == b));
      CHECK(f["data"]["reservation"]["expires_at"].get<std::string>().back() == 'Z');
      CHECK(f["user_id"] == (f["order_id"] == a ? "ea" : "eb"));
    }
    if (f["type"] == "order.cancelled") CHECK(f["data"]["reason"] == "cancelled_by_user");
  }
  const auto& last_stock = *std::find_if(frames.rbegin(), frames.rend(), [](const json& f) {
    return f["type"] == "inventory.changed";
  });
  CHECK(last_stock["data"]["available"] == 0);
  CHECK(last_stock["data"]["waiting"] == 0);
  // Positions only move forward.
  for (std::size_t i = 1; i < frames.size(); ++i) {
    const auto lsn = [](const json& f) {
      const auto text = f["lsn"].get<std::string>();
      const auto slash = text.find('/');
      return (std::stoull(text.substr(0, slash), nullptr, 16) << 32) |
             std::stoull(text.substr(slash + 1), nullptr, 16);
    };
    CHECK(lsn(frames[i - 1]) <= lsn(frames[i]));
  }
}

TEST_CASE("inventory.changed carries the units held and sold, as committed") {
  const auto& svc = shared_service();
  auto ws = admin_stream();
  const auto item = unique_name("sold");
  create_item(svc.admin_port, {{"id", item}, {"name", "Sold"}, {"total_stock", 3}});
  const std::string a = place(svc.public_port, "sa", item, "k").json()["id"];
  const std::string b = place(svc.public_port, "sb", item, "k").json()["id"];
  const auto pay = http_request(
      svc.public_port, "POST", "/v1/payments/webhook",
      json{{"event_id", unique_name("pay")}, {"order_id", a}, {"outcome", "succeeded"}}.dump());
  REQUIRE(pay.json()["result"] == "confirmed");
  REQUIRE(cancel(svc.public_port, "sb", b).status == 200);

  std::vector<std::string> counts;  // "available/reserved/confirmed" of each change, in order
  for (const auto& f : of_item(drain(*ws), item)) {
    if (f["type"] != "inventory.changed" && f["type"] != "item.created") continue;
    const auto& d = f["data"];
    CHECK(d["total_stock"] == 3);
    counts.push_back(std::to_string(d["available"].get<int>()) + "/" +
                     std::to_string(d["reserved"].get<int>()) + "/" +
                     std::to_string(d["confirmed"].get<int>()));
  }
  // Created; a reserved; b reserved; a paid; b cancelled.
  CHECK(counts == std::vector<std::string>{"3/0/0", "2/1/0", "1/2/0", "1/1/1", "2/0/1"});
  // The admin API reads the same counts from the row.
  const auto row = admin_item(svc.admin_port, item);
  CHECK(row["reserved"] == 0);
  CHECK(row["confirmed"] == 1);
}

TEST_CASE("every committed change appears exactly once; a rolled-back one never") {
  const auto& svc = shared_service();
  auto ws = admin_stream();
  const auto item = unique_name("once");
  create_item(svc.admin_port, {{"id", item}, {"name", "Once"}, {"total_stock", 10}});
  parallel_for(16, 50,
               [&](int i) { place(svc.public_port, item + "-" + std::to_string(i), item, "k"); });
  {
    flashsale::pg::Connection conn(svc.database_url);
    conn.exec("BEGIN");
    conn.exec("INSERT INTO items (id, name, total_stock, available) VALUES ('ghost', 'G', 1, 1)");
    conn.exec("UPDATE items SET paused = true WHERE id = $1", {item});
    conn.exec("ROLLBACK");
  }
  const auto frames = drain(*ws);
  check_ids(frames);
  std::map<std::string, int> per_type;
  std::set<std::string> orders;
  for (const auto& f : of_item(frames, item)) {
    per_type[f["type"]]++;
    if (f["type"] == "order.reserved" || f["type"] == "order.waiting") {
      CHECK(orders.insert(f["order_id"].get<std::string>()).second);
    }
    if (f["type"] == "inventory.changed") CHECK(f["data"]["paused"] == false);
  }
  CHECK(per_type["order.reserved"] == 10);
  CHECK(per_type["order.waiting"] == 40);
  CHECK(of_item(frames, "ghost").empty());
}

TEST_CASE("a killed replication connection resumes: no event lost, none twice") {
  const auto& svc = shared_service();
  auto ws = admin_stream();
  const auto item = unique_name("resume");
  create_item(svc.admin_port, {{"id", item}, {"name", "Resume"}, {"total_stock", 1000}});
  std::atomic<bool> done{false};
  std::atomic<int> kills{0};
  std::thread killer([&] {
    flashsale::pg::Connection conn(svc.database_url);
    while (!done) {
      kills += static_cast<int>(
          conn.exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE backend_type = 'walsender'")
              .get_int(0, 0));
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
  });
  parallel_for(8, 300,
               [&](int i) { place(svc.public_port, item + "-" + std::to_string(i), item, "k"); });
  done = true;
  killer.join();
  CHECK(kills > 0);
  const auto frames = drain(*ws);
  check_ids(frames);
  std::set<std::string> reserved;
  int count = 0;
  for (const auto& f : of_item(frames, item)) {
    if (f["type"] == "order.reserved") {
      reserved.insert(f["order_id"].get<std::string>());
      ++count;
    }
  }
  CHECK(count == 300);
  CHECK(reserved.size() == 300);
  CHECK_THAT(http_request(svc.public_port, "GET", "/metrics").body,
             !Catch::Contains("flashsale_cdc_reconnects_total 0\n"));
}

TEST_CASE("a client that reconnects with since= gets what it missed, once, before the snapshot") {
  const auto& svc = shared_service();
  const auto item = unique_name("resume");
  std::string seen;  // the last event the first connection read
  std::set<std::string> before;
  auto watch = admin_stream();  // stays connected: tells when the service has handled an event
  {
    auto ws = admin_stream();
    create_item(svc.admin_port, {{"id", item}, {"name", "Resume"}, {"total_stock", 1}});
    REQUIRE(place(svc.public_port, "ra", item, "k").status == 202);
    const auto frames = drain(*ws);
    seen = frames.back()["event_id"];
    for (const auto& f : frames) before.insert(f["event_id"].get<std::string>());
  }
  // While it is away: bob joins the line, alice cancels, bob is promoted.
  const std::string b = place(svc.public_port, "rb", item, "k").json()["id"];
  const auto orders =
      http_request(svc.public_port, "GET", "/v1/orders?item=" + item, "", {{"X-User-Id", "ra"}})
          .json()["orders"];
  REQUIRE(orders.size() == 1);
  REQUIRE(cancel(svc.public_port, "ra", orders[0]["id"]).status == 200);
  const auto promoted = watch->until(
      [&](const json& f) { return f["type"] == "order.reserved" && f["order_id"] == b; });
  REQUIRE(!promoted.empty());
  REQUIRE(promoted.back()["order_id"] == b);

  WsClient ws(svc.admin_port, "/admin/stream?since=" + seen);
  auto replayed = ws.until([](const json& f) { return f["type"] == "snapshot"; });
  REQUIRE(!replayed.empty());
  const auto snapshot = replayed.back();
  replayed.pop_back();
  REQUIRE(snapshot["type"] == "snapshot");
  CHECK(snapshot["resume"]["since"] == seen);
  CHECK(snapshot["resume"]["complete"] == true);
  CHECK(snapshot["resume"]["replayed"] == replayed.size());
  check_ids(replayed);
  for (const auto& f : replayed) {
    INFO(f.dump());
    CHECK_FALSE(before.count(f["event_id"].get<std::string>()));
  }
  std::vector<std::string> missed;  // what this item's orders did while the client was away
  for (const auto& f : of_item(replayed, item)) {
    if (f["type"].get<std::string>().rfind("order.", 0) == 0) {
      missed.push_back(f["type"].get<std::string>() + (f["order_id"] == b ? ":b" : ":a"));
    }
  }
  CHECK(missed ==
        std::vector<std::string>{"order.waiting:b", "order.cancelled:a", "order.reserved:b"});
  // Then live, as without since=, and nothing of the replay again.
  const auto live = drain(ws);
  check_ids(live);
  for (const auto& f : live) {
    for (const auto& r : replayed) CHECK(f["event_id"] != r["event_id"]);
  }

  // A position from before anything this process saw: what it holds, and a gap said so.
  WsClient old(svc.admin_port, "/admin/stream?since=0/0/0");
  const auto from_start = old.until([](const json& f) { return f["type"] == "snapshot"; });
  REQUIRE(!from_start.empty());
  CHECK(from_start.back()["resume"]["complete"] == false);
  CHECK(from_start.back()["resume"]["replayed"] == from_start.size() - 1);
  CHECK(from_start.size() > replayed.size());
  // A since that is not an event id is refused after the upgrade, with a code of its own and
  // nothing else sent; an unknown parameter at the upgrade (HTTP 400).
  for (const char* bad : {"/admin/stream?since=yesterday", "/admin/stream?since=0/0"}) {
    INFO(bad);
    WsClient refused(svc.admin_port, bad);
    CHECK(!refused.next());
    CHECK(refused.close_code() == 4400);
    CHECK(refused.close_reason() ==
          "since must be an event_id as the stream sent it, like 0/16B3748/0");
  }
  CHECK_THROWS(WsClient(svc.admin_port, "/admin/stream?from=0/0/0"));
}

TEST_CASE("an item changed many times in one transaction streams one inventory.changed") {
  const auto& svc = shared_service();
  auto ws = admin_stream();
  const auto a = unique_name("fold");
  const auto b = unique_name("fold");
  for (const auto& id : {a, b}) {
    create_item(svc.admin_port, {{"id", id}, {"name", "Fold"}, {"total_stock", 5}});
  }
  {
    flashsale::pg::Connection conn(svc.database_url);
    conn.exec("BEGIN");
    conn.exec("UPDATE items SET paused = true WHERE id = $1", {a});
    conn.exec("UPDATE items SET total_stock = 8, available = 8 WHERE id = $1", {a});
    conn.exec("UPDATE items SET paused = true WHERE id = $1", {b});
    conn.exec("UPDATE items SET paused = false WHERE id = $1", {a});
    conn.exec("COMMIT");
  }
  std::vector<json> changes;  // the inventory.changed of a and b, in stream order
  for (const auto& f : drain(*ws)) {
    if (f["type"] == "inventory.changed" && (f["item_id"] == a || f["item_id"] == b)) {
      changes.push_back(f);
    }
  }
  check_ids(changes);
  // One each, with the rows as committed (never a version only the transaction saw), a's after
  // b's (where a's last change was), in the same transaction.
  REQUIRE(changes.size() == 2);
  CHECK(changes[0]["item_id"] == b);
  CHECK(changes[0]["data"]["paused"] == true);
  CHECK(changes[1]["item_id"] == a);
  CHECK(changes[1]["data"]["paused"] == false);
  CHECK(changes[1]["data"]["total_stock"] == 8);
  CHECK(changes[1]["data"]["available"] == 8);
  CHECK(changes[0]["lsn"] == changes[1]["lsn"]);
}

TEST_CASE("a plain GET on the stream route asks for an upgrade") {
  const auto r = http_request(shared_service().admin_port, "GET", "/admin/stream");
  CHECK(r.status == 426);
}

TEST_CASE("a client that does not read is closed as too slow; the others keep receiving") {
  const auto& svc = shared_service();
  const auto slow_closes = [&] {
    return sample_value(scrape(svc.admin_port), "flashsale_ws_slow_closes_total",
                        {{"listener", "admin"}})
        .value_or(0);
  };
  const double closed_before = slow_closes();
  // A client that completes the handshake and then reads nothing until it has been closed, with
  // a tiny receive buffer.
  boost::asio::io_context io;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> slow(io);
  slow.next_layer().open(boost::asio::ip::tcp::v4());
  slow.next_layer().set_option(boost::asio::socket_base::receive_buffer_size(4096));
  slow.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), svc.admin_port});
  slow.handshake("127.0.0.1", "/admin/stream");
  auto fast = admin_stream();
  const auto prefix = unique_name("flood") + "-";
  // One transaction, 20,000 new items: 20,000 events (about 7 MB) at once, more than a client's
  // queue holds (1 MiB). The reading client lags for half a second from the first of them, so
  // the burst is queued for it over the bound, and then catches up within the grace period.
  // (The items go again afterwards, which streams nothing: later tests' snapshots stay small.)
  flashsale::pg::Connection conn(svc.database_url);
  conn.exec(
      "INSERT INTO items (id, name, total_stock, available) "
      "SELECT $1 || i, 'Flood', 1, 1 FROM generate_series(1, 20000) i",
      {prefix});
  int flood = 0;
  const auto count_until = [&](int n) {
    fast->until(
        [&](const json& f) {
          flood += f.value("item_id", "").rfind(prefix, 0) == 0 && f["type"] == "item.created";
          return flood == n;
        },
        std::chrono::seconds(30));
  };
  count_until(1);
  fast->pause_reading(std::chrono::milliseconds(500));
  count_until(20000);
  const auto caught_up = std::chrono::steady_clock::now();
  conn.exec("DELETE FROM items WHERE starts_with(id, $1)", {prefix});
  REQUIRE(flood == 20000);  // a burst bigger than the queue reaches a client that reads
  // The slow one stays full for the grace period (2 s) and is closed. It then gets what fit in
  // the buffers, and the close frame with its reason.
  REQUIRE(eventually([&] { return slow_closes() > closed_before; }, std::chrono::seconds(10)));
  boost::beast::error_code ec;
  boost::beast::flat_buffer buffer;
  while (!ec) {
    slow.read(buffer, ec);
    buffer.consume(buffer.size());
  }
  CHECK(ec == boost::beast::websocket::error::closed);
  CHECK(slow.reason().code == boost::beast::websocket::close_code::policy_error);
  CHECK(std::string(slow.reason().reason.c_str()) == "too slow: the client does not keep up");
  // The reading client caught up with the burst, and no event has come since: past the end of
  // its grace period, it is still open and still receiving, and it was not counted as slow.
  std::this_thread::sleep_until(caught_up + std::chrono::seconds(3));
  drain(*fast);
  CHECK(slow_closes() == closed_before + 1);
}
