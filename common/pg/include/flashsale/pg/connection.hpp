// A thin RAII layer over libpq shared by the host and the PostgreSQL plugins: connections,
// results, parameterized statements, and what a failure's SQLSTATE means. SQL is never built
// from input; values go in params. libpq's own header stays out of this one (as libpqxx does).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

// libpq's handle types, declared as libpq-fe.h declares them.
typedef struct pg_conn PGconn;      // NOLINT(modernize-use-using)
typedef struct pg_result PGresult;  // NOLINT(modernize-use-using)

namespace flashsale::pg {

/// A failed connection or statement; sqlstate() is the five-character SQLSTATE, if any. The
/// classifications below are the only place that reads SQLSTATE values.
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, std::string sqlstate)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  [[nodiscard]] const std::string& sqlstate() const { return sqlstate_; }

  /// The connection is gone or the server is going away (class 08, 57P01-57P03): the same work
  /// may succeed on a new connection.
  [[nodiscard]] bool is_connection_lost() const;
  /// Worth running the whole transaction again: a deadlock or serialization failure (class 40),
  /// or a lost connection.
  [[nodiscard]] bool is_retryable() const;
  /// A unique constraint was violated (23505).
  [[nodiscard]] bool is_unique_violation() const;
  /// The input was wrong: a data exception (class 22, e.g. a date out of range, a number too
  /// large) or a check constraint (23514).
  [[nodiscard]] bool is_data_error() const;
  /// Of those: a number out of its column's range (22003), a time out of range or malformed
  /// (22008, 22007), a check constraint (23514).
  [[nodiscard]] bool is_number_out_of_range() const;
  [[nodiscard]] bool is_bad_time() const;
  [[nodiscard]] bool is_check_violation() const;
  /// An object of that name exists already (42710), e.g. a replication slot made meanwhile.
  [[nodiscard]] bool is_duplicate_object() const;
  /// The object is in use by another session (55006), e.g. a replication slot another
  /// process streams from.
  [[nodiscard]] bool is_in_use() const;
  /// No connection was free in time (53300, as the pool reports it).
  [[nodiscard]] bool is_busy() const;

 private:
  std::string sqlstate_;
};

/// An owned PGresult that completed successfully.
class Result {
 public:
  explicit Result(PGresult* result);
  [[nodiscard]] int rows() const;
  [[nodiscard]] bool is_null(int row, int col) const;
  /// The text of a field; empty for NULL.
  [[nodiscard]] std::string_view get(int row, int col) const;
  [[nodiscard]] long long get_int(int row, int col) const;
  /// Rows an INSERT, UPDATE or DELETE touched.
  [[nodiscard]] long long affected() const;

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
  /// Connected, and not inside a transaction: fit to go back to a pool.
  [[nodiscard]] bool idle() const;
  /// Rolls back an open transaction, if any; never throws.
  void rollback_quietly();

 private:
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
};

/// `url` with TCP keepalives and a send timeout added (libpq URI form only, and only where the
/// URL sets none), so a silently dead network fails a call in seconds, not after minutes of
/// retransmissions.
std::string with_keepalives(const std::string& url);

/// `url` with `name=value` added as a connection parameter (URI or key=value form).
std::string with_parameter(const std::string& url, const std::string& name,
                           const std::string& value);

/// The application_name of flashsale's connections: "flashsale/<node id>/<component>", so
/// pg_stat_activity tells replicas apart (the event source reads the node id back from the
/// second part).
std::string application_name(const std::string& node_id, const std::string& component);

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
    conn.rollback_quietly();
    throw;
  }
}

}  // namespace flashsale::pg
