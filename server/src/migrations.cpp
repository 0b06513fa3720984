// See migrations.hpp.
#include "migrations.hpp"

#include <map>
#include <regex>

#include "crypto.hpp"

namespace flashsale {
namespace {

// Any constant works; it only has to be the same for every flashsale process.
constexpr const char* kLockKey = "7265746e61686661";

class AdvisoryLock {
 public:
  explicit AdvisoryLock(pg::Connection& conn) : conn_(conn) {
    conn_.exec("SELECT pg_advisory_lock(x'" + std::string(kLockKey) + "'::bigint)");
  }
  ~AdvisoryLock() {
    try {
      conn_.exec("SELECT pg_advisory_unlock(x'" + std::string(kLockKey) + "'::bigint)");
    } catch (const pg::Error&) {
      // The session's end releases it anyway.
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  pg::Connection& conn_;
};

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

MigrationReport migrate(pg::Connection& conn, const std::vector<Migration>& migrations,
                        const std::function<void(const std::string&)>& progress) {
  std::map<int, const Migration*> wanted;
  for (const auto& m : migrations) {
    if (!wanted.emplace(m.version, &m).second) {
      throw MigrationError("two migrations have version " + std::to_string(m.version));
    }
  }
  AdvisoryLock lock(conn);
  conn.exec(
      "CREATE TABLE IF NOT EXISTS flashsale_schema_migrations ("
      " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
  std::map<int, std::pair<std::string, std::string>> recorded;
  auto rows = conn.exec("SELECT version, name, checksum FROM flashsale_schema_migrations");
  for (int r = 0; r < rows.rows(); ++r) {
    recorded[static_cast<int>(rows.get_int(r, 0))] = {std::string(rows.get(r, 1)),
                                                      std::string(rows.get(r, 2))};
  }
  for (const auto& [version, entry] : recorded) {
    if (!wanted.count(version)) {
      throw MigrationError("the database has migration " + entry.first +
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
    if (progress) progress("applying migration " + m->name);
    pg::transaction(conn, [&](pg::Connection& c) {
      c.exec(m->sql);
      c.exec(
          "INSERT INTO flashsale_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
          {std::to_string(version), m->name, sum});
    });
    ++report.applied;
  }
  return report;
}

}  // namespace flashsale
