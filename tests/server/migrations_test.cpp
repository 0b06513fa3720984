// Migrations against a real PostgreSQL: applied once, in order, checksum-guarded, atomic per
// file, serialized across concurrent migrators (threads and processes), per component; and a
// database made before components (one history for every table) upgrades without re-running or
// losing anything.
#include <catch2/catch.hpp>
#include <filesystem>
#include <flashsale/crypto.hpp>
#include <flashsale/pg/migrations.hpp>
#include <fstream>
#include <future>
#include <map>
#include <set>

#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;
using pg::migrate;
using pg::Migration;
using pg::MigrationError;

namespace {

pg::Schema two_migrations() {
  return {"test",
          {Migration::from_file("0001_first.sql", "CREATE TABLE first (id int PRIMARY KEY);"),
           Migration::from_file("0002_second.sql",
                                "CREATE TABLE second (id int); INSERT INTO second VALUES (1);")}};
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
  CHECK(rows.get(1, 2) == two_migrations().migrations[1].checksum());
  CHECK(two_migrations().migrations[1].checksum().size() == 64);
}

TEST_CASE("a migration changed after it was applied is refused") {
  pg::Connection conn(test::fresh_database());
  migrate(conn, two_migrations());
  auto changed = two_migrations();
  changed.migrations[0].sql += "\n-- edited";
  CHECK_THROWS_WITH(migrate(conn, changed),
                    Catch::Contains("migration 0001_first.sql changed after it was applied"));
}

TEST_CASE("a database migrated by a newer build is refused") {
  pg::Connection conn(test::fresh_database());
  migrate(conn, two_migrations());
  CHECK_THROWS_WITH(migrate(conn, {"test", {two_migrations().migrations[0]}}),
                    Catch::Contains("the database has migration 0002_second.sql"));
}

TEST_CASE("a failing migration is rolled back whole; earlier ones stay") {
  pg::Connection conn(test::fresh_database());
  auto migrations = two_migrations();
  migrations.migrations.push_back(Migration::from_file(
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
              {"test",
               {Migration::from_file("0001_a.sql", ""), Migration::from_file("0001_b.sql", "")}}),
      Catch::Contains("two migrations have version 1"));
}

TEST_CASE("concurrent migrators in threads apply each migration once") {
  const std::string url = test::fresh_database();
  // The first migration is slow so the second migrator surely arrives while it runs.
  const pg::Schema migrations = {
      "test",
      {Migration::from_file("0001_slow.sql", "SELECT pg_sleep(0.5); CREATE TABLE slow (id int);"),
       Migration::from_file("0002_after.sql", "CREATE TABLE after_slow (id int);")}};
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

TEST_CASE("components keep histories of their own: the same versions, apart") {
  pg::Connection conn(test::fresh_database());
  migrate(conn, two_migrations());
  const pg::Schema other = {
      "other", {Migration::from_file("0001_other.sql", "CREATE TABLE other (id int);")}};
  const auto report = migrate(conn, other);
  CHECK(report.applied == 1);
  CHECK(migrate(conn, two_migrations()).already_applied == 2);
  CHECK(count(conn, "SELECT count(*) FROM flashsale_schema_migrations WHERE version = 1") == 2);
}

namespace {

// Every migration file of the tree, as the layout before components applied them: all in one
// list by number, recorded in the history table of that time (no component column).
void make_old_layout_database(pg::Connection& conn) {
  conn.exec(
      "CREATE TABLE flashsale_schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
      " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  std::map<std::string, std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(FLASHSALE_SOURCE_DIR "/migrations")) {
    // The layout of that time had exactly these; later files belong to one component each.
    static const std::set<std::string> then = {"0001_inventory.sql", "0002_events.sql",
                                               "0003_jobs.sql", "0004_devices.sql"};
    if (then.count(entry.path().filename()) != 0) files[entry.path().filename()] = entry.path();
  }
  REQUIRE(files.size() == 4);
  for (const auto& [name, path] : files) {
    std::ifstream in(path);
    const std::string sql((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    conn.exec(sql);
    conn.exec(
        "INSERT INTO flashsale_schema_migrations (version, name, checksum) VALUES"
        " ($1, $2, $3)",
        {name.substr(0, 4), name, crypto::sha256_hex(sql)});
  }
}

}  // namespace

TEST_CASE("a database made before components upgrades: nothing re-applied, nothing lost") {
  const std::string url = test::fresh_database();
  {
    pg::Connection conn(url);
    make_old_layout_database(conn);
    conn.exec("INSERT INTO items (id, name, total_stock, available) VALUES ('old', 'Old', 5, 3)");
    conn.exec(
        "WITH o AS (INSERT INTO orders (user_id, item_id, status, waitlist_seq) VALUES"
        " ('u', 'old', 'reserved', 1), ('v', 'old', 'confirmed', 2) RETURNING id, status)"
        " INSERT INTO reservations (order_id, item_id, status, expires_at)"
        " SELECT id, 'old', CASE status WHEN 'reserved' THEN 'active' ELSE 'consumed' END,"
        " now() + interval '1 hour' FROM o");
  }
  for (int run = 1; run <= 2; ++run) {
    test::ServiceProcess service({"migrate"}, {"FLASHSALE_DATABASE_URL=" + url});
    REQUIRE(service.wait_exit() == 0);
    const std::string log = service.log();
    INFO(log);
    // Only what came after that layout is applied, once: storage_postgres/0005 to 0010 and
    // scheduler_pg_queue/0004 in the first run, nothing in the second.
    const auto applied = [&](const std::string& what) {
      return log.find("applying migration " + what) != std::string::npos;
    };
    CHECK(applied("storage_postgres/0005_operator_orders.sql") == (run == 1));
    CHECK(applied("storage_postgres/0006_confirmed_count.sql") == (run == 1));
    CHECK(applied("storage_postgres/0007_set_based_placement.sql") == (run == 1));
    CHECK(applied("storage_postgres/0008_generic_placement_plans.sql") == (run == 1));
    CHECK(applied("storage_postgres/0009_order_json_plan_cached.sql") == (run == 1));
    CHECK(applied("storage_postgres/0010_orders_room_for_updates.sql") == (run == 1));
    CHECK(applied("scheduler_pg_queue/0004_jobs_claimer.sql") == (run == 1));
    for (const char* old : {"storage_postgres/0001", "storage_postgres/0004",
                            "event_source_pg_wal/0002", "scheduler_pg_queue/0003"}) {
      INFO(old);
      CHECK_FALSE(applied(old));
    }
    if (run == 1) {
      CHECK_THAT(log, Catch::Contains("migration 0001_inventory.sql was applied before; recorded "
                                      "for storage_postgres"));
      CHECK_THAT(log, Catch::Contains("migration 0002_events.sql was applied before; recorded "
                                      "for event_source_pg_wal"));
    }
  }
  pg::Connection conn(url);
  CHECK(count(conn, "SELECT count(*) FROM orders WHERE item_id = 'old'") == 2);
  CHECK(count(conn, "SELECT available FROM items WHERE id = 'old'") == 3);
  // 0006 counted the sale made before it.
  CHECK(count(conn, "SELECT confirmed FROM items WHERE id = 'old'") == 1);
  const auto rows = conn.exec(
      "SELECT component || '/' || name FROM flashsale_schema_migrations"
      " ORDER BY version, component");
  // The four adopted, scheduler_pg_queue/0004_jobs_claimer.sql (version 4 as well, so the
  // component orders the two), then storage_postgres/0005 to 0010.
  REQUIRE(rows.rows() == 11);
  CHECK(rows.get(0, 0) == "storage_postgres/0001_inventory.sql");
  CHECK(rows.get(1, 0) == "event_source_pg_wal/0002_events.sql");
  CHECK(rows.get(2, 0) == "scheduler_pg_queue/0003_jobs.sql");
  CHECK(rows.get(3, 0) == "scheduler_pg_queue/0004_jobs_claimer.sql");
  CHECK(rows.get(4, 0) == "storage_postgres/0004_devices.sql");
  CHECK(rows.get(5, 0) == "storage_postgres/0005_operator_orders.sql");
  CHECK(rows.get(6, 0) == "storage_postgres/0006_confirmed_count.sql");
  CHECK(rows.get(7, 0) == "storage_postgres/0007_set_based_placement.sql");
  CHECK(rows.get(8, 0) == "storage_postgres/0008_generic_placement_plans.sql");
  CHECK(rows.get(9, 0) == "storage_postgres/0009_order_json_plan_cached.sql");
  CHECK(rows.get(10, 0) == "storage_postgres/0010_orders_room_for_updates.sql");
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
  long long files = 0;  // every migration of every plugin `serve` loads by default
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(FLASHSALE_SOURCE_DIR "/migrations")) {
    files += entry.path().extension() == ".sql";
  }
  CHECK(count(conn, "SELECT count(*) FROM flashsale_schema_migrations") == files);
  CHECK(
      count(conn, "SELECT count(DISTINCT (component, version)) FROM flashsale_schema_migrations") ==
      files);
}
