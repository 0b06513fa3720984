// The pg_wal event source under faults, with the real binary and a real PostgreSQL: positions
// are acknowledged only after every consumer handled them, a PostgreSQL restart loses and
// repeats nothing, and an independent reader (pg_recvlogical + test_decoding) sees the same
// changes in the same order.
#include <signal.h>

#include <catch2/catch.hpp>
#include <flashsale/pg/connection.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "embedded_postgres.hpp"
#include "support/api_client.hpp"
#include "support/parallel.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"
#include "support/ws_client.hpp"

using namespace flashsale;
using namespace flashsale::test;
using nlohmann::json;

namespace {

std::string confirmed_flush(pg::Connection& conn) {
  return std::string(conn.exec("SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                               "WHERE slot_name = 'flashsale_' || current_database()")
                         .get(0, 0));
}

// Frames of the admin stream up to the item.created of a new marker item.
std::vector<json> drain(WsClient& ws, std::uint16_t admin_port) {
  const auto marker = unique_name("marker");
  create_item(admin_port, {{"id", marker}, {"name", "Marker"}, {"total_stock", 0}});
  return ws.until([&](const json& e) { return e["item_id"] == marker; }, std::chrono::seconds(30));
}

std::unique_ptr<WsClient> admin_stream(std::uint16_t admin_port) {
  auto ws = std::make_unique<WsClient>(admin_port, "/admin/stream");
  const auto snapshot = ws->next();
  REQUIRE((snapshot && (*snapshot)["type"] == "snapshot"));
  return ws;
}

std::uint64_t lsn(const std::string& text) {
  const auto slash = text.find('/');
  return (std::stoull(text.substr(0, slash), nullptr, 16) << 32) |
         std::stoull(text.substr(slash + 1), nullptr, 16);
}

const std::string kGated =
    std::string(FLASHSALE_FIXTURE_DIR) + "/flashsale_fixture_gated_consumer.so";

}  // namespace

TEST_CASE("the slot's confirmed position moves only after every consumer handled the events") {
  const std::string url = fresh_database();
  const auto gate = temp_dir() / "gate";
  std::ofstream(gate) << "closed";
  ServiceProcess service(
      {"serve"},
      {"FLASHSALE_DATABASE_URL=" + url,
       R"(FLASHSALE_PLUGINS_LOAD=[{"file": "flashsale_storage_postgres"},
          {"file": "flashsale_event_source_pg_wal"}, {"file": ")" +
           kGated + R"("}])",
       R"(FLASHSALE_PLUGIN={"pg_wal": {"status_interval_ms": 50, "heartbeat_interval_ms": 0},
                            "gated": {"gate_file": ")" +
           gate.string() + R"("}})"});
  REQUIRE(service.wait_listening());
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  pg::Connection conn(url);
  create_item(service.admin_port, {{"id", "gated"}, {"name", "Gated"}, {"total_stock", 5}});
  // The consumer now holds item.created: the slot may not move to its end, nor past it.
  const auto held_file = gate.string() + ".held";
  REQUIRE(eventually([&] { return std::filesystem::exists(held_file); }));
  std::uint64_t held = 0;
  std::ifstream(held_file) >> held;
  REQUIRE(held > 0);
  place(service.public_port, "g1", "gated", "k");
  for (int i = 0; i < 20; ++i) {  // 20 status intervals: plenty of chances to move
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(lsn(confirmed_flush(conn)) < held);
  }
  std::filesystem::remove(gate);
  CHECK(eventually([&] { return lsn(confirmed_flush(conn)) >= held; }));
}

TEST_CASE("a PostgreSQL restart mid-stream loses no event and repeats none") {
  EmbeddedPostgres pg({temp_dir() / "pg", {}});
  ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_URL=" + pg.url()});
  REQUIRE(service.wait_listening());
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  auto ws = admin_stream(service.admin_port);
  create_item(service.admin_port, {{"id", "restart"}, {"name", "Restart"}, {"total_stock", 1000}});
  auto place_range = [&](int from, int to) {
    parallel_for(8, to - from, [&](int i) {
      // Retried until accepted: requests during the restart may answer 503.
      const std::string user = "r" + std::to_string(from + i);
      REQUIRE(
          eventually([&] { return place(service.public_port, user, "restart", "k").status == 202; },
                     std::chrono::seconds(30)));
    });
  };
  place_range(0, 100);
  pg.restart();
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  place_range(100, 200);
  const auto frames = drain(*ws, service.admin_port);
  std::set<std::string> ids, reserved;
  int count = 0;
  for (const auto& f : frames) {
    CHECK(ids.insert(f["event_id"].get<std::string>()).second);
    if (f["type"] == "order.reserved" && f["item_id"] == "restart") {
      reserved.insert(f["order_id"].get<std::string>());
      ++count;
    }
  }
  CHECK(count == 200);
  CHECK(reserved.size() == 200);
  CHECK_THAT(service.log(), Catch::Contains("replication stream lost, reconnecting"));
  service.signal(SIGTERM);
  CHECK(service.wait_exit() == 0);
}

TEST_CASE("after a healthy session the reconnect backoff starts over: one blip costs no 5 s") {
  EmbeddedPostgres pg({temp_dir() / "pg", {}});
  ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_URL=" + pg.url()});
  REQUIRE(service.wait_listening());
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  // Blips in quick succession build the backoff up (each waits twice the one before).
  for (int i = 0; i < 5; ++i) {
    pg.restart();
    REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  }
  // A healthy stretch, then one blip: the reader is back as soon as the server is.
  std::this_thread::sleep_for(std::chrono::seconds(11));
  pg.restart();
  const auto restarted = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  const auto back = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - restarted);
  INFO("ready again " << back.count() << " ms after the restart");
  CHECK(back < std::chrono::milliseconds(2000));
}

TEST_CASE("pg_recvlogical with test_decoding sees the same order changes in the same order") {
  const std::string url = fresh_database();
  {
    // The independent reader's slot exists before any change, like ours.
    pg::Connection conn(url);
    conn.exec("SELECT pg_create_logical_replication_slot('xcheck', 'test_decoding')");
  }
  ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_URL=" + url});
  REQUIRE(service.wait_listening());
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  auto ws = admin_stream(service.admin_port);
  const auto P = service.public_port;
  create_item(service.admin_port, {{"id", "xcheck"}, {"name", "X"}, {"total_stock", 3}});
  std::vector<std::string> ids;
  ids.reserve(6);
  for (int i = 0; i < 6; ++i)
    ids.push_back(place(P, "x" + std::to_string(i), "xcheck", "k").json()["id"]);
  cancel(P, "x0", ids[0]);
  cancel(P, "x4", ids[4]);
  http_request(service.admin_port, "POST", "/admin/orders/" + ids[1] + "/expire");
  http_request(P, "POST", "/v1/payments/webhook",
               json{{"event_id", "xc-1"}, {"order_id", ids[2]}, {"outcome", "succeeded"}}.dump());
  std::vector<std::string> ours;  // "order id status" in stream order
  for (const auto& f : drain(*ws, service.admin_port)) {
    const std::string type = f["type"];
    if (f["item_id"] == "xcheck" && type.rfind("order.", 0) == 0) {
      ours.push_back(f["order_id"].get<std::string>() + " " + type.substr(6));
    }
  }

  pg::Connection conn(url);
  const std::string end(conn.exec("SELECT pg_current_wal_lsn()::text").get(0, 0));
  const auto file = temp_dir() / "recvlogical.txt";
  std::string output;
  const int code =
      process::run({"/usr/lib/postgresql/15/bin/pg_recvlogical", "-d", url, "--slot", "xcheck",
                    "--start", "--endpos", end, "--no-loop", "-f", file.string()},
                   output);
  INFO(output);
  REQUIRE(code == 0);
  // "table public.orders: INSERT: id[uuid]:'…' … status[text]:'reserved' …"; for an UPDATE
  // the new row follows "new-tuple:" and the old one precedes it.
  static const std::regex id_re(R"(id\[uuid\]:'([0-9a-f-]+)')");
  static const std::regex status_re(R"(status\[text\]:'([a-z]+)')");
  static const std::regex item_re(R"(item_id\[text\]:'([a-z0-9-]+)')");
  std::vector<std::string> theirs;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("table public.orders: ", 0) != 0) continue;
    const auto split = line.find("new-tuple:");
    const std::string before = split == std::string::npos ? "" : line.substr(0, split);
    const std::string row = split == std::string::npos ? line : line.substr(split);
    std::smatch id, status, item, old_status;
    REQUIRE(std::regex_search(row, id, id_re));
    REQUIRE(std::regex_search(row, status, status_re));
    REQUIRE(std::regex_search(row, item, item_re));
    if (item[1] != "xcheck") continue;
    if (std::regex_search(before, old_status, status_re) && old_status[1] == status[1]) continue;
    theirs.push_back(id[1].str() + " " + status[1].str());
  }
  CHECK(ours.size() >= 10);
  CHECK(ours == theirs);
}
