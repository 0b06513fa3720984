// See flashsale/pg/replication.hpp.
#include "flashsale/pg/replication.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include "flashsale/pg/connection.hpp"

namespace flashsale::pg {
namespace {

Error failure(PGconn* conn, const std::string& what) {
  std::string message = PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return Error(what + ": " + message, PQstatus(conn) == CONNECTION_OK ? "" : "08006");
}

}  // namespace

CopyFrame::CopyFrame(char* data, std::size_t size) : data_(data, &PQfreemem), size_(size) {}

ReplicationConnection::ReplicationConnection(const std::string& url)
    : conn_(PQconnectdb(with_parameter(with_keepalives(url), "replication", "database").c_str()),
            &PQfinish) {
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    throw failure(conn_.get(), "replication connection");
  }
}

ReplicationConnection::~ReplicationConnection() {
  if (!copying_) return;
  // Tell the server we are done; it answers with its own CopyDone, which nobody waits for.
  PQputCopyEnd(conn_.get(), nullptr);
  PQflush(conn_.get());
}

void ReplicationConnection::start(const std::string& command) {
  std::unique_ptr<PGresult, void (*)(PGresult*)> res(PQexec(conn_.get(), command.c_str()),
                                                     &PQclear);
  if (PQresultStatus(res.get()) != PGRES_COPY_BOTH) {
    const char* state = PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
    std::string message = PQerrorMessage(conn_.get());
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw Error(message, state ? state : "");
  }
  copying_ = true;
}

std::optional<CopyFrame> ReplicationConnection::read(std::chrono::milliseconds timeout) {
  char* raw = nullptr;
  int n = PQgetCopyData(conn_.get(), &raw, 1);
  if (n == 0) {
    pollfd pfd{PQsocket(conn_.get()), POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(timeout.count()));
    if (PQconsumeInput(conn_.get()) == 0) throw failure(conn_.get(), "replication read");
    n = PQgetCopyData(conn_.get(), &raw, 1);
  }
  if (n == 0) return std::nullopt;
  if (n == -1) {
    copying_ = false;
    throw Error("the server ended the replication stream", "08006");
  }
  if (n < 0) throw failure(conn_.get(), "replication read");
  return CopyFrame(raw, static_cast<std::size_t>(n));
}

void ReplicationConnection::send(std::string_view frame) {
  if (PQputCopyData(conn_.get(), frame.data(), static_cast<int>(frame.size())) != 1 ||
      PQflush(conn_.get()) != 0) {
    throw failure(conn_.get(), "replication status update");
  }
}

}  // namespace flashsale::pg
