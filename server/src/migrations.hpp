// Schema migrations: numbered SQL files from migrations/ (compiled in), each applied once, in
// order, in its own transaction, under an advisory lock, recorded with its SHA-256.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "flashsale/pg.hpp"

namespace flashsale {

struct Migration {
  int version = 0;
  std::string name;  ///< the file name, e.g. "0001_inventory.sql"
  std::string sql;

  /// Parses NNNN_name.sql; throws MigrationError for any other file name.
  static Migration from_file(const std::string& file_name, std::string sql);
  [[nodiscard]] std::string checksum() const;  ///< hex SHA-256 of the SQL text
};

class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The files of migrations/ as they were at build time, in version order.
const std::vector<Migration>& bundled_migrations();

struct MigrationReport {
  int applied = 0;          ///< applied by this call
  int already_applied = 0;  ///< found recorded (and unchanged)
};

/// Brings the database up to `migrations`. Throws MigrationError if a recorded migration's file
/// changed, if the database has a migration this list lacks, or if versions repeat; throws
/// pg::Error if a migration's SQL fails (that migration is rolled back, earlier ones stay).
MigrationReport migrate(pg::Connection& conn, const std::vector<Migration>& migrations,
                        const std::function<void(const std::string&)>& progress = {});

}  // namespace flashsale
