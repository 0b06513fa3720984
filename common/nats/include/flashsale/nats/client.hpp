// A connection to NATS (one server or a cluster) and its JetStream context, over the C client.
// It reconnects by itself for ever; JetStream calls fail meanwhile with an Error.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace flashsale::nats {

/// A failed NATS call: the library's status and, for JetStream API errors, the server's code.
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, natsStatus status, jsErrCode code = static_cast<jsErrCode>(0))
      : std::runtime_error(message), status_(status), code_(code) {}
  [[nodiscard]] natsStatus status() const { return status_; }
  [[nodiscard]] jsErrCode code() const { return code_; }

 private:
  natsStatus status_;
  jsErrCode code_;
};

/// Throws Error("<what>: <the library's last error>") unless `s` is NATS_OK.
void check(natsStatus s, const std::string& what, jsErrCode code = static_cast<jsErrCode>(0));

/// An owned message.
using Msg = std::unique_ptr<natsMsg, void (*)(natsMsg*)>;
Msg own(natsMsg* msg);

/// The value of header `key`, or "" when the message has none.
std::string header(natsMsg* msg, const char* key);

/// The stream sequence of a message a JetStream subscription delivered; 0 if it carries none.
std::uint64_t stream_sequence(natsMsg* msg);

using Subscription = std::unique_ptr<natsSubscription, void (*)(natsSubscription*)>;

class Connection;
/// An ordered consumer (no state on the server; it restarts itself after a gap) of `stream`'s
/// messages on `subjects`, from sequence `from`, or only those stored from now on if `from` is 0.
/// Read it with natsSubscription_NextMsg.
Subscription ordered_consumer(const Connection& conn, const std::string& stream,
                              const std::string& subjects, std::uint64_t from);

class Connection {
 public:
  /// Connects to `servers` (comma-separated nats:// URLs) under `name`. With `wait` false it
  /// returns at once and keeps trying in the background; with `wait` true it throws Error if no
  /// server answers now. Once connected it reconnects for ever.
  Connection(const std::string& servers, const std::string& name, bool wait);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[nodiscard]] natsConnection* get() const { return conn_; }
  [[nodiscard]] jsCtx* js() const { return js_; }
  [[nodiscard]] bool connected() const;
  /// The server this connection uses now, or "" while it has none.
  [[nodiscard]] std::string server() const;

  /// Publishes that were refused or lost since the last call (JetStream's asynchronous
  /// acknowledgements), and the last refusal's text.
  std::uint64_t take_publish_failures(std::string& last_error);

 private:
  static void on_publish_error(jsCtx* js, jsPubAckErr* error, void* closure);

  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<std::uint64_t> publish_failures_{0};
  std::mutex mutex_;
  std::string last_publish_error_;
};

}  // namespace flashsale::nats
