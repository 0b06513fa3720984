// A connection in logical replication mode: runs START_REPLICATION, then moves CopyData frames
// both ways (the server's XLogData and keepalives in, standby status updates out). What the
// frames mean is the reader's business (plugins/event_source/pg_wal/pgoutput.hpp).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

typedef struct pg_conn PGconn;  // NOLINT(modernize-use-using)

namespace flashsale::pg {

/// One CopyData frame, in the buffer libpq made for it.
class CopyFrame {
 public:
  CopyFrame(char* data, std::size_t size);
  [[nodiscard]] std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char, void (*)(void*)> data_;
  std::size_t size_;
};

class ReplicationConnection {
 public:
  /// Connects to `url` as a logical replication client (replication=database, with TCP
  /// keepalives); throws Error.
  explicit ReplicationConnection(const std::string& url);
  ~ReplicationConnection();  ///< ends the copy if one runs
  ReplicationConnection(const ReplicationConnection&) = delete;
  ReplicationConnection& operator=(const ReplicationConnection&) = delete;

  /// Runs `command` (START_REPLICATION ...), which must switch to COPY BOTH; throws Error with
  /// the server's message otherwise (e.g. a slot active for another process, or invalidated).
  void start(const std::string& command);
  /// The next frame, waiting at most `timeout`; nullopt when none came in time. Throws Error
  /// when the server ends the stream or the connection breaks.
  std::optional<CopyFrame> read(std::chrono::milliseconds timeout);
  /// Sends one frame (a standby status update) and flushes it; throws Error.
  void send(std::string_view frame);

 private:
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
  bool copying_ = false;
};

}  // namespace flashsale::pg
