// pg::Pool against a real PostgreSQL: connections are opened on demand up to the size and set up
// once each, an exhausted pool says "busy" after its timeout (SQLSTATE 53300), and a connection
// that comes back broken or inside a transaction is dropped, not lent again.
#include <atomic>
#include <catch2/catch.hpp>
#include <flashsale/pg/pool.hpp>

#include "support/test_cluster.hpp"

using namespace flashsale;
using namespace std::chrono_literals;

TEST_CASE("connections are made on demand, set up once, and reused") {
  std::atomic<int> setups{0};
  int on_loan = 0;
  pg::Pool pool(
      test::fresh_database(), 2,
      [&](pg::Connection& c) {
        ++setups;
        c.exec("SET application_name = 'pool_test'");
      },
      [&](int delta) { on_loan += delta; });
  CHECK(setups == 0);
  {
    auto a = pool.acquire(1s);
    CHECK(on_loan == 1);
    CHECK(a->exec("SHOW application_name").get(0, 0) == "pool_test");
  }
  CHECK(on_loan == 0);
  { auto again = pool.acquire(1s); }
  CHECK(setups == 1);  // the same connection came back
}

TEST_CASE("an exhausted pool answers busy after its timeout") {
  pg::Pool pool(test::fresh_database(), 1, {});
  auto held = pool.acquire(1s);
  const auto start = std::chrono::steady_clock::now();
  try {
    auto second = pool.acquire(200ms);
    FAIL("a second connection was lent");
  } catch (const pg::Error& e) {
    CHECK(e.is_busy());
  }
  CHECK(std::chrono::steady_clock::now() - start >= 200ms);
}

TEST_CASE("a connection left inside a transaction is dropped, not lent again") {
  std::atomic<int> setups{0};
  pg::Pool pool(test::fresh_database(), 1, [&](pg::Connection&) { ++setups; });
  {
    auto c = pool.acquire(1s);
    c->exec("BEGIN");
  }
  auto next = pool.acquire(1s);
  CHECK(setups == 2);
  CHECK(next->idle());
}

TEST_CASE("the error classes read SQLSTATE in one place") {
  pg::Connection conn(test::fresh_database());
  conn.exec("CREATE TABLE t (id int PRIMARY KEY, n int CHECK (n >= 0))");
  conn.exec("INSERT INTO t VALUES (1, 1)");
  const auto error_of = [&](const std::string& sql) -> pg::Error {
    try {
      conn.exec(sql);
    } catch (const pg::Error& e) {
      return e;
    }
    FAIL("no error from " << sql);
    return pg::Error("", "");
  };
  CHECK(error_of("INSERT INTO t VALUES (1, 1)").is_unique_violation());
  CHECK(error_of("INSERT INTO t VALUES (2, -1)").is_data_error());
  CHECK(error_of("SELECT '2026-02-30'::date").is_data_error());
  CHECK(error_of("SELECT 2147483647::int + 1").is_data_error());
  const auto syntax = error_of("SELEKT 1");
  CHECK_FALSE(syntax.is_data_error());
  CHECK_FALSE(syntax.is_retryable());
  CHECK(pg::Error("x", "40P01").is_retryable());
  CHECK(pg::Error("x", "08006").is_connection_lost());
  CHECK(pg::Error("x", "57P01").is_retryable());
}
