// Regenerates tests/fixtures/pgoutput/stream.hex: runs a small workload on a throwaway PostgreSQL
// cluster and records every raw CopyData buffer of one pgoutput (proto 1) replication session.
// Usage: flashsale-capture-pgoutput [output-folder]   (default: the fixture folder in the source)
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <flashsale/pg/connection.hpp>
#include <flashsale/pg/replication.hpp>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "embedded_postgres.hpp"
#include "pgoutput.hpp"

namespace {

namespace fs = std::filesystem;
namespace pg_wal = flashsale::plugins::pg_wal;
using Clock = std::chrono::steady_clock;

constexpr const char* kEndMarker = "capture-end";

// Each string runs as its own PQexec, so each is one transaction (or an explicit BEGIN...).
const std::vector<std::string> kSchema = {
    // A custom type makes pgoutput send a 'Y' message before the relation that uses it.
    "CREATE TYPE sale_state AS ENUM ('scheduled', 'open', 'closed')",
    // Replica identity DEFAULT (the primary key).
    R"(CREATE TABLE inventory (sku text PRIMARY KEY, qty integer NOT NULL,
                             state sale_state NOT NULL))",
    // Replica identity FULL; `note` goes out of line, uncompressed, once the row passes ~2 kB.
    R"(CREATE TABLE reservations (id bigint PRIMARY KEY, sku text NOT NULL, qty integer NOT NULL,
                                status text NOT NULL, note text))",
    "ALTER TABLE reservations REPLICA IDENTITY FULL",
    "ALTER TABLE reservations ALTER COLUMN note SET STORAGE EXTERNAL",
    "CREATE PUBLICATION capture_pub FOR TABLE inventory, reservations",
    // Before the slot exists, so the 2 kB value is in the stream once (the 'O' tuple), not twice.
    "INSERT INTO reservations VALUES (1, 'SKU-1', 1, 'PENDING', repeat('flashsale ', 210))",
    "SELECT pg_replication_origin_create('upstream')",
};

const std::vector<std::string> kWorkload = {
    "INSERT INTO inventory VALUES ('SKU-1', 10, 'open'), ('SKU-2', 5, 'scheduled')",
    "INSERT INTO reservations VALUES (2, 'SKU-2', 2, 'PENDING', NULL)",
    // FULL: 'O' old row with the detoasted note, and 'u' for the note in the new row.
    "UPDATE reservations SET status = 'CONFIRMED' WHERE id = 1",
    // DEFAULT, key unchanged: no old tuple.
    "UPDATE inventory SET qty = qty - 1 WHERE sku = 'SKU-1'",
    // DEFAULT, key changed: 'K' old key with 'n' placeholders for the other columns.
    "UPDATE inventory SET sku = 'SKU-1b' WHERE sku = 'SKU-1'",
    R"(BEGIN; DELETE FROM inventory WHERE sku = 'SKU-1b';
              DELETE FROM reservations WHERE id = 2; COMMIT)",
    // Must leave no trace in the stream.
    R"(BEGIN; INSERT INTO reservations VALUES (99, 'ROLLED-BACK', 9, 'ROLLED-BACK', NULL);
       ROLLBACK)",
    R"(BEGIN; INSERT INTO reservations VALUES (3, 'SKU-2', 1, 'PENDING', NULL);
       SELECT pg_logical_emit_message(true, 'flashsale', 'reservation 3 placed'); COMMIT)",
    "SELECT pg_logical_emit_message(false, 'flashsale', 'heartbeat')",
    // The next change re-sends the relation with four columns.
    "ALTER TABLE inventory ADD COLUMN price numeric(10,2)",
    "INSERT INTO inventory VALUES ('SKU-3', 7, 'closed', 19.99)",
    // A transaction replayed from another node: pgoutput adds an 'O' Origin message.
    "SELECT pg_replication_origin_session_setup('upstream')",
    R"(BEGIN; SELECT pg_replication_origin_xact_setup('0/ABCDEF0', '2024-01-01 00:00:00+00');
       UPDATE inventory SET qty = 6 WHERE sku = 'SKU-2'; COMMIT)",
    "SELECT pg_replication_origin_session_reset()",
    "TRUNCATE inventory, reservations RESTART IDENTITY CASCADE",
    std::string("SELECT pg_logical_emit_message(false, 'flashsale', '") + kEndMarker + "')",
};

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += kDigits[u >> 4];
    out += kDigits[u & 0xF];
  }
  return out;
}

std::string label(std::string_view frame) {
  if (frame.size() > 25 && frame[0] == 'w') return std::string("w ") + frame[25];
  return std::string(1, frame.empty() ? '?' : frame[0]);
}

std::int64_t now_pg_us() {
  const auto unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  return pg_wal::unix_to_pg_us(unix_us);
}

// Reads until the end marker, then asks for one keepalive so the fixture surely holds a 'k'.
std::vector<std::string> capture(const std::string& url) {
  flashsale::pg::ReplicationConnection repl(url);
  repl.start(
      "START_REPLICATION SLOT capture LOGICAL 0/0 (\"proto_version\" '1', "
      "\"publication_names\" 'capture_pub', \"messages\" 'true')");

  std::vector<std::string> frames;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  bool seen_end = false;
  bool asked = false;
  pg_wal::Lsn received = 0;
  while (true) {
    if (Clock::now() > deadline) throw std::runtime_error("timed out reading the stream");
    const auto frame = repl.read(std::chrono::milliseconds(100));
    if (!frame) continue;
    frames.emplace_back(frame->view());

    const auto parsed = pg_wal::parse_copy_data(frames.back());
    if (const auto* x = std::get_if<pg_wal::XLogData>(&parsed)) {
      received = std::max(received, x->data_start);
      const auto message = pg_wal::decode(x->payload);
      const auto* m = std::get_if<pg_wal::LogicalMessage>(&message);
      if (m != nullptr && m->content == kEndMarker) seen_end = true;
    } else if (asked) {
      break;  // the keepalive that answers our status update
    }
    if (seen_end && !asked) {
      repl.send(pg_wal::status_update(received, received, received, now_pg_us(),
                                      /*reply_requested=*/true));
      asked = true;
    }
  }
  return frames;
}

void write_fixture(const fs::path& path, const std::vector<std::string>& frames,
                   const std::string& version) {
  std::ofstream out(path, std::ios::trunc);
  out << "# pgoutput proto_version 1 stream from PostgreSQL " << version
      << ", written by flashsale-capture-pgoutput (see README.md).\n"
      << "# One raw CopyData buffer per line in hex, in stream order, each after a comment "
         "naming it:\n"
      << "# 'w <pgoutput message type>' for XLogData, 'k' for a primary keepalive.\n";
  for (const auto& frame : frames) out << "# " << label(frame) << '\n' << hex(frame) << '\n';
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path out_dir = argc > 1 ? fs::path(argv[1]) : fs::path(FLASHSALE_PGOUTPUT_FIXTURES);
  char pattern[] = "/tmp/flashsale-capture-XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    std::cerr << "mkdtemp failed\n";
    return 1;
  }
  const fs::path temp(pattern);
  int code = 0;
  try {
    // Traversable, so the cluster inside can run as the postgres user when we are root.
    fs::permissions(temp, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    flashsale::EmbeddedPostgres cluster({temp / "pg", {}});
    flashsale::pg::Connection sql(cluster.url());
    const std::string version(sql.exec("SHOW server_version").get(0, 0));
    for (const auto& statement : kSchema) sql.exec(statement);
    sql.exec("SELECT pg_create_logical_replication_slot('capture', 'pgoutput')");
    for (const auto& statement : kWorkload) sql.exec(statement);

    const auto frames = capture(cluster.url());
    fs::create_directories(out_dir);
    write_fixture(out_dir / "stream.hex", frames, version);
    std::size_t bytes = 0;
    for (const auto& f : frames) bytes += f.size();
    std::cout << "wrote " << frames.size() << " frames (" << bytes << " bytes) to "
              << (out_dir / "stream.hex").string() << '\n';
  } catch (const std::exception& e) {
    std::cerr << "capture failed: " << e.what() << '\n';
    code = 1;
  }
  std::error_code ec;
  fs::remove_all(temp, ec);
  return code;
}
