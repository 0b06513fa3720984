// Schema migrations, per owner. Each component that owns tables (a plugin, as a DuckDB extension
// owns its schema) keeps numbered SQL files in migrations/<component>/, compiled into it
// (flashsale_add_migrations in common/pg/CMakeLists.txt), and applies them itself: each once, in
// order, in its own transaction, under one advisory lock shared by every component, recorded
// with its SHA-256 in flashsale_schema_migrations (component, version).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "flashsale/pg/connection.hpp"

namespace flashsale::pg {

struct Migration {
  int version = 0;
  std::string name;  ///< the file name, e.g. "0001_inventory.sql"
  std::string sql;

  /// Parses NNNN_name.sql; throws MigrationError for any other file name.
  static Migration from_file(const std::string& file_name, std::string sql);
  [[nodiscard]] std::string checksum() const;  ///< hex SHA-256 of the SQL text
};

/// The migrations of one component, e.g. "storage_postgres".
struct Schema {
  std::string component;
  std::vector<Migration> migrations;  ///< in version order
};

class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MigrationReport {
  int applied = 0;          ///< applied by this call
  int already_applied = 0;  ///< found recorded (and unchanged)
  int adopted = 0;          ///< found in the history of a database from before components
};

/// Brings `schema` up to date on `conn`. Throws MigrationError if a recorded migration's file
/// changed, if the database has a migration of this component the list lacks, or if versions
/// repeat; throws Error if a migration's SQL fails (that migration is rolled back, earlier ones
/// stay). A database whose history predates components (one list for every table) keeps it: a
/// migration found there under the same file name and checksum is adopted by its component,
/// never run again.
MigrationReport migrate(Connection& conn, const Schema& schema,
                        const std::function<void(const std::string&)>& progress = {});

/// migrate() on a new connection to `url`, each step and the outcome told to `log` in a line.
void migrate(const std::string& url, const Schema& schema,
             const std::function<void(const std::string&)>& log);

namespace embedded {
/// The schema flashsale_add_migrations compiled into this binary (one per plugin library).
const Schema& schema();
}  // namespace embedded

}  // namespace flashsale::pg
