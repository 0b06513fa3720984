// See flashsale/pg/migrations.hpp.
#include "flashsale/pg/migrations.hpp"

#include <flashsale/crypto.hpp>
#include <map>
#include <regex>

namespace flashsale::pg {
namespace {

// Any constant works; it only has to be the same for every flashsale process and component.
constexpr const char* kLockKey = "7265746e61686661";

class AdvisoryLock {
 public:
  explicit AdvisoryLock(Connection& conn) : conn_(conn) {
    conn_.exec("SELECT pg_advisory_lock(x'" + std::string(kLockKey) + "'::bigint)");
  }
  ~AdvisoryLock() {
    try {
      conn_.exec("SELECT pg_advisory_unlock(x'" + std::string(kLockKey) + "'::bigint)");
    } catch (const Error&) {
      // The session's end releases it anyway.
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  Connection& conn_;
};

// The history table. Before components it had one list for the whole database (no component
// column, key `version`); such rows get component '' and wait to be adopted.
constexpr const char* kHistory = R"sql(
CREATE TABLE IF NOT EXISTS flashsale_schema_migrations (
  component  text NOT NULL,
  version    integer NOT NULL,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (component, version));
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'flashsale_schema_migrations'::regclass
                                              AND attname = 'component') THEN
    ALTER TABLE flashsale_schema_migrations ADD COLUMN component text NOT NULL DEFAULT '';
    ALTER TABLE flashsale_schema_migrations DROP CONSTRAINT flashsale_schema_migrations_pkey;
    ALTER TABLE flashsale_schema_migrations ADD PRIMARY KEY (component, version);
  END IF;
END $$)sql";

}  // namespace

Migration Migration::from_file(const std::string& file_name, std::string sql) {
  static const std::regex pattern(R"(([0-9]{4})_[a-z0-9_]+\.sql)");
  std::smatch m;
  if (!std::regex_match(file_name, m, pattern)) {
    throw MigrationError("migration file '" + file_name + "' must be named NNNN_name.sql");
  }
  return {std::stoi(m[1].str()), file_name, std::move(sql)};
}

std::string Migration::checksum() const { return crypto::sha256_hex(sql); }

MigrationReport migrate(Connection& conn, const Schema& schema,
                        const std::function<void(const std::string&)>& progress) {
  std::map<int, const Migration*> wanted;
  for (const auto& m : schema.migrations) {
    if (!wanted.emplace(m.version, &m).second) {
      throw MigrationError("two migrations have version " + std::to_string(m.version));
    }
  }
  AdvisoryLock lock(conn);
  conn.exec(kHistory);
  std::map<int, std::pair<std::string, std::string>> recorded;  // version -> name, checksum
  auto rows = conn.exec(
      "SELECT version, name, checksum FROM flashsale_schema_migrations WHERE component = $1",
      {schema.component});
  for (int r = 0; r < rows.rows(); ++r) {
    recorded[static_cast<int>(rows.get_int(r, 0))] = {std::string(rows.get(r, 1)),
                                                      std::string(rows.get(r, 2))};
  }
  for (const auto& [version, entry] : recorded) {
    if (!wanted.count(version)) {
      throw MigrationError("the database has migration " + entry.first + " of " + schema.component +
                           ", which this build does not know: is a newer flashsale using it?");
    }
  }
  MigrationReport report;
  for (const auto& [version, m] : wanted) {
    const std::string sum = m->checksum();
    if (auto it = recorded.find(version); it != recorded.end()) {
      if (it->second.second != sum) {
        throw MigrationError("migration " + m->name + " changed after it was applied (recorded " +
                             it->second.second.substr(0, 12) + ", file " + sum.substr(0, 12) +
                             "); released migrations are never edited: add a new one");
      }
      ++report.already_applied;
      continue;
    }
    // Applied before components existed: claim the row instead of running the file again.
    const auto adopted = conn.exec(
        "UPDATE flashsale_schema_migrations SET component = $1"
        " WHERE component = '' AND version = $2 AND name = $3 AND checksum = $4",
        {schema.component, std::to_string(version), m->name, sum});
    if (adopted.affected() == 1) {
      if (progress)
        progress("migration " + m->name + " was applied before; recorded for " + schema.component);
      ++report.adopted;
      continue;
    }
    if (progress) progress("applying migration " + schema.component + "/" + m->name);
    const Migration& migration = *m;  // clang 14 cannot capture a structured binding
    const int number = version;
    transaction(conn, [&](Connection& c) {
      c.exec(migration.sql);
      c.exec(
          "INSERT INTO flashsale_schema_migrations (component, version, name, checksum)"
          " VALUES ($1, $2, $3, $4)",
          {schema.component, std::to_string(number), migration.name, sum});
    });
    ++report.applied;
  }
  return report;
}

void migrate(const std::string& url, const Schema& schema,
             const std::function<void(const std::string&)>& log) {
  Connection conn(url);
  const auto report = migrate(conn, schema, log);
  log("database schema of " + schema.component + " is current (" + std::to_string(report.applied) +
      " applied now, " + std::to_string(report.already_applied + report.adopted) + " before)");
}

}  // namespace flashsale::pg
