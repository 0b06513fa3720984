// Migrations against a real PostgreSQL: applied once, in order, checksum-guarded, atomic per
// file, and serialized across concurrent migrators (threads and processes).
#include "migrations.hpp"

#include <catch2/catch.hpp>
#include <future>

#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;

namespace {

std::vector<Migration> two_migrations() {
  return {Migration::from_file("0001_first.sql", "CREATE TABLE first (id int PRIMARY KEY);"),
          Migration::from_file("0002_second.sql",
                               "CREATE TABLE second (id int); INSERT INTO second VALUES (1);")};
}

long long count(pg::Connection& conn, const std::string& sql) {
  return conn.exec(sql).get_int(0, 0);
}

}  // namespace

TEST_CASE("migrations apply once, in order, and are recorded with checksums") {
  pg::Connection conn(test::fresh_database());
  auto report = migrate(conn, two_migrations());
  CHECK(report.applied == 2);
  CHECK(report.already_applied == 0);
  report = migrate(conn, two_migrations());
  CHECK(report.applied == 0);
  CHECK(report.already_applied == 2);
  CHECK(count(conn, "SELECT count(*) FROM second") == 1);
  auto rows =
      conn.exec("SELECT version, name, checksum FROM flashsale_schema_migrations ORDER BY version");
  REQUIRE(rows.rows() == 2);
  CHECK(rows.get(0, 1) == "0001_first.sql");
  CHECK(rows.get(1, 2) == two_migrations()[1].checksum());
  CHECK(two_migrations()[1].checksum().size() == 64);
}

TEST_CASE("a migration changed after it was applied is refused") {
  pg::Connection conn(test::fresh_database());
  migrate(conn, two_migrations());
  auto changed = two_migrations();
  changed[0].sql += "\n-- edited";
  CHECK_THROWS_WITH(migrate(conn, changed),
                    Catch::Contains("migration 0001_first.sql changed after it was applied"));
}

TEST_CASE("a database migrated by a newer build is refused") {
  pg::Connection conn(test::fresh_database());
  migrate(conn, two_migrations());
  CHECK_THROWS_WITH(migrate(conn, {two_migrations()[0]}),
                    Catch::Contains("the database has migration 0002_second.sql"));
}

TEST_CASE("a failing migration is rolled back whole; earlier ones stay") {
  pg::Connection conn(test::fresh_database());
  auto migrations = two_migrations();
  migrations.push_back(Migration::from_file(
      "0003_broken.sql", "CREATE TABLE third (id int); SELECT * FROM no_such_table;"));
  CHECK_THROWS_AS(migrate(conn, migrations), pg::Error);
  CHECK(count(conn, "SELECT count(*) FROM flashsale_schema_migrations") == 2);
  CHECK(count(conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'third'") == 0);
}

TEST_CASE("migration file names are checked") {
  CHECK_THROWS_AS(Migration::from_file("1_init.sql", ""), MigrationError);
  CHECK_THROWS_AS(Migration::from_file("0001-init.sql", ""), MigrationError);
  CHECK_THROWS_AS(Migration::from_file("0001_init.txt", ""), MigrationError);
  CHECK(Migration::from_file("0042_add_jobs.sql", "").version == 42);
  CHECK_THROWS_WITH(
      migrate(*std::make_unique<pg::Connection>(test::fresh_database()),
              {Migration::from_file("0001_a.sql", ""), Migration::from_file("0001_b.sql", "")}),
      Catch::Contains("two migrations have version 1"));
}

TEST_CASE("concurrent migrators in threads apply each migration once") {
  const std::string url = test::fresh_database();
  // The first migration is slow so the second migrator surely arrives while it runs.
  const std::vector<Migration> migrations = {
      Migration::from_file("0001_slow.sql", "SELECT pg_sleep(0.5); CREATE TABLE slow (id int);"),
      Migration::from_file("0002_after.sql", "CREATE TABLE after_slow (id int);")};
  auto run = [&] {
    pg::Connection conn(url);
    return migrate(conn, migrations);
  };
  auto a = std::async(std::launch::async, run);
  auto b = std::async(std::launch::async, run);
  const auto ra = a.get();
  const auto rb = b.get();
  CHECK(ra.applied + rb.applied == 2);
  CHECK(ra.already_applied + rb.already_applied == 2);
}

TEST_CASE("two `flashsale migrate` processes at once apply the bundled migrations once") {
  const std::string url = test::fresh_database();
  test::ServiceProcess a({"migrate"}, {"FLASHSALE_DATABASE_URL=" + url});
  test::ServiceProcess b({"migrate"}, {"FLASHSALE_DATABASE_URL=" + url});
  const auto code_a = a.wait_exit();
  const auto code_b = b.wait_exit();
  INFO(a.log() << b.log());
  CHECK(code_a == 0);
  CHECK(code_b == 0);
  pg::Connection conn(url);
  CHECK(count(conn, "SELECT count(*) FROM flashsale_schema_migrations") ==
        static_cast<long long>(bundled_migrations().size()));
  CHECK(count(conn, "SELECT count(DISTINCT version) FROM flashsale_schema_migrations") ==
        static_cast<long long>(bundled_migrations().size()));
}
