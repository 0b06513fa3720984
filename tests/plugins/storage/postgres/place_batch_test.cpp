// The set-based placement (migrations/storage_postgres/0007) against the rules as 0001 wrote
// them, one request after another: the same random batches on two databases, one with each
// function, must give the same answers and leave the same rows. The batches mix users over
// their limits, repeated keys in one batch, keys used for another item, full waiting lines,
// cancellations that promote the line, and paused, unopened and closed sales.
#include <catch2/catch.hpp>
#include <flashsale/pg/connection.hpp>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "support/test_cluster.hpp"

using namespace flashsale;
using nlohmann::json;

namespace {

// 0001's fs_place_batch: the request-by-request loop, as it was released.
std::string sequential_placement() {
  std::ifstream file(FLASHSALE_SOURCE_DIR "/migrations/storage_postgres/0001_inventory.sql");
  std::stringstream text;
  text << file.rdbuf();
  const std::string sql = text.str();
  const auto begin = sql.find("CREATE FUNCTION fs_place_batch(");
  REQUIRE(begin != std::string::npos);
  const auto end = sql.find("END $$;", begin);
  REQUIRE(end != std::string::npos);
  return "CREATE OR REPLACE" + sql.substr(begin + 6, end + 7 - (begin + 6));
}

// An answer without what differs between two databases by nature: ids and times.
std::string comparable(const pg::Result& rows, int r) {
  std::string out = std::string(rows.get(r, 0)) + " " + std::string(rows.get(r, 1)) + " [" +
                    std::string(rows.get(r, 2)) + "]";
  if (!rows.is_null(r, 3)) {
    json body = json::parse(rows.get(r, 3));
    for (const char* field : {"id", "created_at", "updated_at"}) body.erase(field);
    if (body.contains("reservation")) body["reservation"] = "held";
    out += " " + body.dump();
  }
  return out;
}

std::vector<std::string> all(const pg::Result& rows, int columns) {
  std::vector<std::string> out;
  for (int r = 0; r < rows.rows(); ++r) {
    std::string line;
    for (int c = 0; c < columns; ++c) line += std::string(rows.get(r, c)) + "|";
    out.push_back(line);
  }
  return out;
}

// What a database holds, ids aside: the items' counts, every order, lease and key record.
std::vector<std::string> state(pg::Connection& db) {
  std::vector<std::string> out;
  for (const auto& [sql, columns] : std::vector<std::pair<const char*, int>>{
           {"SELECT id, available, waiting, next_waitlist_seq, confirmed FROM items ORDER BY id",
            5},
           {"SELECT item_id, waitlist_seq, user_id, status, coalesce(reason, '') FROM orders"
            " ORDER BY item_id, waitlist_seq",
            5},
           {"SELECT o.item_id, o.waitlist_seq, r.status FROM reservations r"
            " JOIN orders o ON o.id = r.order_id ORDER BY 1, 2",
            3},
           {"SELECT k.user_id, k.key, k.item_id, o.waitlist_seq, k.response IS NULL"
            " FROM idempotency_records k LEFT JOIN orders o ON o.id = k.order_id ORDER BY 1, 2",
            5}}) {
    const auto rows = all(db.exec(sql), columns);
    out.insert(out.end(), rows.begin(), rows.end());
  }
  return out;
}

}  // namespace

TEST_CASE("set-based placement answers every batch as the request-by-request rules do") {
  const auto seed = GENERATE(1u, 2u, 3u);
  INFO("seed " << seed);
  const std::string set_url = test::fresh_database();
  const std::string seq_url = test::fresh_database();
  for (const auto& url : {set_url, seq_url})
    test::migrate_plugins(url, {"flashsale_storage_postgres"});
  pg::Connection set(set_url);
  pg::Connection seq(seq_url);
  seq.exec(sequential_placement());
  // Both databases get every statement below.
  const auto both = [&](const std::string& sql, const std::vector<pg::Param>& params = {}) {
    set.exec(sql, params);
    seq.exec(sql, params);
  };
  // id, stock, per-user limit, waitlist limit (NULL: none), and how the sale stands.
  both(
      "INSERT INTO items (id, name, total_stock, available, per_user_limit, waitlist_limit,"
      " paused, opens_at, closes_at) VALUES"
      " ('one', 'x', 1, 1, 1, NULL, false, now(), NULL),"
      " ('few', 'x', 3, 3, 2, 2, false, now(), NULL),"
      " ('many', 'x', 12, 12, 3, NULL, false, now(), NULL),"
      " ('none', 'x', 0, 0, 1, 0, false, now(), NULL),"
      " ('line', 'x', 2, 2, 1, 4, false, now(), NULL),"
      " ('paused', 'x', 5, 5, 1, NULL, true, now(), NULL),"
      " ('later', 'x', 5, 5, 1, NULL, false, '2999-01-01', NULL),"
      " ('closed', 'x', 5, 5, 1, NULL, false, now(), '2000-01-02')");
  const std::vector<std::string> items = {"one",  "few",    "many",  "none",
                                          "line", "paused", "later", "closed"};

  std::set<std::string> outcomes;
  std::mt19937 random(seed);
  const auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };
  for (int round = 0; round < 150; ++round) {
    if (pick(4) == 0) {  // a user cancels an open order: its unit or place goes to the line
      const auto open = seq.exec(
          "SELECT item_id, waitlist_seq, user_id FROM orders"
          " WHERE status IN ('waiting', 'reserved') ORDER BY random() LIMIT 1");
      if (open.rows() == 1) {
        const std::vector<pg::Param> order = {
            std::string(open.get(0, 0)), std::string(open.get(0, 1)), std::string(open.get(0, 2))};
        const std::string cancel =
            "SELECT outcome FROM orders o, fs_end_order(o.id, $3, 'cancel')"
            " WHERE o.item_id = $1 AND o.waitlist_seq = $2::bigint";
        CHECK(all(set.exec(cancel, order), 1) == all(seq.exec(cancel, order), 1));
      }
    }
    json batch = json::array();
    const int size = 1 + pick(pick(3) == 0 ? 40 : 6);
    for (int i = 0; i < size; ++i) {
      batch.push_back(
          {{"user", "u" + std::to_string(pick(10))}, {"key", "k" + std::to_string(pick(5))}});
    }
    const std::string& item = items[pick(static_cast<int>(items.size()))];
    INFO("round " << round << ", " << item << ": " << batch.dump());
    const std::string place = "SELECT * FROM fs_place_batch($1, $2::jsonb)";
    const auto a = set.exec(place, {item, batch.dump()});
    const auto b = seq.exec(place, {item, batch.dump()});
    REQUIRE(a.rows() == size);
    REQUIRE(b.rows() == size);
    for (int r = 0; r < size; ++r) {
      REQUIRE(comparable(a, r) == comparable(b, r));
      outcomes.emplace(b.get(r, 1));
    }
  }
  CHECK(state(set) == state(seq));
  // The batches did reach every rule.
  CHECK(outcomes == std::set<std::string>{"idempotency_mismatch", "limit_exceeded", "replayed",
                                          "reserved", "sale_closed", "sale_not_open", "sale_paused",
                                          "sold_out", "waiting"});
}

TEST_CASE("a key recorded meanwhile by another item's batch fails the batch for a retry") {
  const std::string url = test::fresh_database();
  test::migrate_plugins(url, {"flashsale_storage_postgres"});
  pg::Connection first(url);
  pg::Connection second(url);
  first.exec(
      "INSERT INTO items (id, name, total_stock, available) VALUES ('a', 'x', 1, 1), "
      "('b', 'x', 1, 1)");
  const std::string place = "SELECT outcome FROM fs_place_batch($1, $2::jsonb)";
  const std::string request = R"([{"user": "ann", "key": "k"}])";
  first.exec("BEGIN");
  REQUIRE(first.exec(place, {"a", request}).get(0, 0) == "reserved");
  // The second batch, for another item, waits on the first one's record of the key.
  auto racing = std::async(std::launch::async, [&] {
    try {
      second.exec(place, {"b", request});
      return std::string("no error");
    } catch (const pg::Error& e) {
      return std::string(e.is_retryable() ? "retryable: " : "final: ") + e.what();
    }
  });
  CHECK(racing.wait_for(std::chrono::milliseconds(500)) == std::future_status::timeout);
  first.exec("COMMIT");
  const std::string error = racing.get();
  CHECK_THAT(error, Catch::StartsWith("retryable: ") &&
                        Catch::Contains("recorded meanwhile by another transaction"));
  // Its retry sees the record: the key belongs to item a.
  CHECK(second.exec(place, {"b", request}).get(0, 0) == "idempotency_mismatch");
  CHECK(second.exec("SELECT count(*) FROM orders").get_int(0, 0) == 1);
  CHECK(second.exec("SELECT available FROM items WHERE id = 'b'").get_int(0, 0) == 1);
}
