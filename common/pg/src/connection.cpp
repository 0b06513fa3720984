// See flashsale/pg/connection.hpp.
#include "flashsale/pg/connection.hpp"

#include <libpq-fe.h>

#include <cstdlib>

namespace flashsale::pg {
namespace {

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Result checked(PGconn* conn, PGresult* raw) {
  Result result(raw);
  const auto status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_BOTH) {
    return result;
  }
  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  // A lost connection often comes without a SQLSTATE: report it as connection_failure.
  const char* fallback = PQstatus(conn) == CONNECTION_OK ? "" : "08006";
  throw Error(trimmed(raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn)),
              state ? state : fallback);
}

std::vector<const char*> pointers(const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return values;
}

bool is_uri(const std::string& url) {
  return url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0;
}

}  // namespace

bool Error::is_connection_lost() const {
  return sqlstate_.rfind("08", 0) == 0 || sqlstate_ == "57P01" || sqlstate_ == "57P02" ||
         sqlstate_ == "57P03";
}

bool Error::is_retryable() const { return sqlstate_.rfind("40", 0) == 0 || is_connection_lost(); }

bool Error::is_unique_violation() const { return sqlstate_ == "23505"; }

bool Error::is_data_error() const { return sqlstate_.rfind("22", 0) == 0 || sqlstate_ == "23514"; }

bool Error::is_number_out_of_range() const { return sqlstate_ == "22003"; }

bool Error::is_bad_time() const { return sqlstate_ == "22008" || sqlstate_ == "22007"; }

bool Error::is_check_violation() const { return sqlstate_ == "23514"; }

bool Error::is_duplicate_object() const { return sqlstate_ == "42710"; }

bool Error::is_in_use() const { return sqlstate_ == "55006"; }

bool Error::is_busy() const { return sqlstate_ == "53300"; }

std::string with_keepalives(const std::string& url) {
  if (!is_uri(url) || url.find("keepalives") != std::string::npos) return url;
  return url + (url.find('?') == std::string::npos ? "?" : "&") +
         "keepalives_idle=10&keepalives_interval=3&keepalives_count=3&tcp_user_timeout=30000";
}

std::string with_parameter(const std::string& url, const std::string& name,
                           const std::string& value) {
  if (!is_uri(url)) return url + " " + name + "=" + value;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + name + "=" + value;
}

std::string application_name(const std::string& node_id, const std::string& component) {
  return ("flashsale/" + node_id + "/" + component).substr(0, 63);  // NAMEDATALEN - 1
}

Result::Result(PGresult* result) : result_(result, &PQclear) {}

int Result::rows() const { return PQntuples(result_.get()); }

bool Result::is_null(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }

std::string_view Result::get(int row, int col) const {
  return {PQgetvalue(result_.get(), row, col),
          static_cast<size_t>(PQgetlength(result_.get(), row, col))};
}

long long Result::get_int(int row, int col) const {
  return std::strtoll(PQgetvalue(result_.get(), row, col), nullptr, 10);
}

long long Result::affected() const { return std::strtoll(PQcmdTuples(result_.get()), nullptr, 10); }

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (const char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

Connection::Connection(const std::string& url) : conn_(PQconnectdb(url.c_str()), &PQfinish) {
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    throw Error("cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(conn_.get())), "08006");
  }
  // NOTICEs ("relation already exists, skipping") are not for the service's log.
  PQsetNoticeProcessor(
      conn_.get(), [](void*, const char*) {}, nullptr);
}

Result Connection::exec(const std::string& sql) {
  return checked(conn_.get(), PQexec(conn_.get(), sql.c_str()));
}

Result Connection::exec(const std::string& sql, const std::vector<Param>& params) {
  const auto values = pointers(params);
  return checked(conn_.get(),
                 PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0));
}

void Connection::prepare(const std::string& name, const std::string& sql) {
  checked(conn_.get(), PQprepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr));
}

Result Connection::exec_prepared(const std::string& name, const std::vector<Param>& params) {
  const auto values = pointers(params);
  return checked(conn_.get(),
                 PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(values.size()),
                                values.data(), nullptr, nullptr, 0));
}

bool Connection::idle() const {
  return PQstatus(conn_.get()) == CONNECTION_OK && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
}

void Connection::rollback_quietly() {
  if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) PQclear(PQexec(conn_.get(), "ROLLBACK"));
}

}  // namespace flashsale::pg
