// A thin RAII layer over libpq shared by the host and the PostgreSQL plugins: connections,
// results and parameterized statements. SQL is never built from input; values go in params.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace flashsale::pg {

/// A failed connection or statement; sqlstate() is the five-character SQLSTATE, if any.
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, std::string sqlstate)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  [[nodiscard]] const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

/// An owned PGresult that completed successfully.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}
  [[nodiscard]] int rows() const { return PQntuples(result_.get()); }
  [[nodiscard]] bool is_null(int row, int col) const;
  /// The text of a field; empty for NULL.
  [[nodiscard]] std::string_view get(int row, int col) const;
  [[nodiscard]] long long get_int(int row, int col) const;
  /// Rows an INSERT, UPDATE or DELETE touched.
  [[nodiscard]] long long affected() const;
  [[nodiscard]] PGresult* raw() const { return result_.get(); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

using Param = std::optional<std::string>;  ///< nullopt is SQL NULL

/// A text[] literal of `values`, for a parameter (never spliced into SQL).
std::string text_array(const std::vector<std::string>& values);

/// One libpq connection. Not thread-safe: use one per thread or guard it.
class Connection {
 public:
  /// Connects or throws Error with libpq's message (the password is never in it).
  explicit Connection(const std::string& url);
  /// Runs one or more statements with no parameters; returns the last result.
  Result exec(const std::string& sql);
  /// Runs one parameterized statement.
  Result exec(const std::string& sql, const std::vector<Param>& params);
  /// Prepares a named statement on this connection.
  void prepare(const std::string& name, const std::string& sql);
  /// Runs a statement prepared on this connection.
  Result exec_prepared(const std::string& name, const std::vector<Param>& params);
  [[nodiscard]] bool ok() const { return PQstatus(conn_.get()) == CONNECTION_OK; }
  [[nodiscard]] PGconn* raw() const { return conn_.get(); }

 private:
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
};

/// `url` with TCP keepalives and a send timeout added (libpq URI form only, and only where the
/// URL sets none), so a silently dead network fails a call in seconds, not after minutes of
/// retransmissions.
std::string with_keepalives(const std::string& url);

/// Runs fn(conn) inside BEGIN/COMMIT; rolls back and rethrows if fn throws.
template <typename Fn>
auto transaction(Connection& conn, Fn&& fn) {
  conn.exec("BEGIN");
  try {
    if constexpr (std::is_void_v<decltype(fn(conn))>) {
      fn(conn);
      conn.exec("COMMIT");
    } else {
      auto result = fn(conn);
      conn.exec("COMMIT");
      return result;
    }
  } catch (...) {
    if (PQtransactionStatus(conn.raw()) != PQTRANS_IDLE) PQclear(PQexec(conn.raw(), "ROLLBACK"));
    throw;
  }
}

}  // namespace flashsale::pg
