// See client.hpp.
#include "flashsale/nats/client.hpp"

#include <algorithm>
#include <vector>

namespace flashsale::nats {
namespace {

// How long a (re)connect attempt may take, and the pause between two.
constexpr int64_t kConnectTimeoutMs = 2000;
constexpr int64_t kReconnectWaitMs = 250;
constexpr int64_t kOrderedHeartbeatNs = 1'000'000'000;

struct Options {
  natsOptions* raw = nullptr;
  Options() { check(natsOptions_Create(&raw), "NATS options"); }
  ~Options() { natsOptions_Destroy(raw); }
  Options(const Options&) = delete;
  Options& operator=(const Options&) = delete;
};

}  // namespace

void check(natsStatus s, const std::string& what, jsErrCode code) {
  if (s == NATS_OK) return;
  const char* last = nats_GetLastError(nullptr);
  std::string detail = last != nullptr ? last : "";
  // The library writes "(file.c:123): text"; the text is what a reader needs.
  if (const auto cut = detail.find("): ");
      !detail.empty() && detail[0] == '(' && cut != std::string::npos) {
    detail.erase(0, cut + 3);
  }
  std::string message = what + ": " + natsStatus_GetText(s);
  if (!detail.empty() && message.find(detail) == std::string::npos) {
    message += " (" + detail + ")";
  }
  if (code != 0) message += " [JetStream error " + std::to_string(code) + "]";
  throw Error(message, s, code);
}

Msg own(natsMsg* msg) { return {msg, &natsMsg_Destroy}; }

std::string header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) != NATS_OK || value == nullptr) return {};
  return value;
}

std::uint64_t stream_sequence(natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return 0;
  const std::uint64_t seq = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  return seq;
}

Subscription ordered_consumer(const Connection& conn, const std::string& stream,
                              const std::string& subjects, std::uint64_t from) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  // The library recreates an ordered consumer when two heartbeats are missed, e.g. when its
  // server died; its default (5 s) would leave a replica deaf for 10 s.
  so.Config.Heartbeat = kOrderedHeartbeatNs;
  so.Config.DeliverPolicy = from == 0 ? js_DeliverNew : js_DeliverByStartSequence;
  so.Config.OptStartSeq = from;
  natsSubscription* raw = nullptr;
  jsErrCode code{};
  check(js_SubscribeSync(&raw, conn.js(), subjects.c_str(), nullptr, &so, &code),
        "subscribing to stream " + stream, code);
  return {raw, &natsSubscription_Destroy};
}

Connection::Connection(const std::string& servers, const std::string& name, bool wait) {
  Options opts;
  std::vector<std::string> urls;
  for (std::size_t from = 0; from <= servers.size();) {
    const auto comma = std::min(servers.find(',', from), servers.size());
    if (comma > from) urls.push_back(servers.substr(from, comma - from));
    from = comma + 1;
  }
  std::vector<const char*> list;
  list.reserve(urls.size());
  for (const auto& u : urls) list.push_back(u.c_str());
  check(natsOptions_SetServers(opts.raw, list.data(), static_cast<int>(list.size())),
        "NATS servers '" + servers + "'");
  check(natsOptions_SetName(opts.raw, name.c_str()), "NATS connection name");
  check(natsOptions_SetTimeout(opts.raw, kConnectTimeoutMs), "NATS timeout");
  check(natsOptions_SetMaxReconnect(opts.raw, -1), "NATS reconnects");
  check(natsOptions_SetReconnectWait(opts.raw, kReconnectWaitMs), "NATS reconnect wait");
  if (!wait) {
    // A connected callback makes natsConnection_Connect return at once and go on trying.
    check(natsOptions_SetRetryOnFailedConnect(
              opts.raw, true, [](natsConnection*, void*) {}, nullptr),
          "NATS retry");
  }
  const natsStatus s = natsConnection_Connect(&conn_, opts.raw);
  if (s != NATS_NOT_YET_CONNECTED) check(s, "cannot connect to NATS at " + servers);
  jsOptions js_opts;
  jsOptions_Init(&js_opts);
  js_opts.PublishAsync.ErrHandler = &Connection::on_publish_error;
  js_opts.PublishAsync.ErrHandlerClosure = this;
  try {
    check(natsConnection_JetStream(&js_, conn_, &js_opts), "JetStream context");
  } catch (...) {
    natsConnection_Destroy(conn_);
    throw;
  }
}

Connection::~Connection() {
  jsCtx_Destroy(js_);
  natsConnection_Close(conn_);
  natsConnection_Destroy(conn_);
}

bool Connection::connected() const {
  return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

std::string Connection::server() const {
  char url[256] = {};
  if (natsConnection_GetConnectedUrl(conn_, url, sizeof url) != NATS_OK) return {};
  return url;
}

std::uint64_t Connection::take_publish_failures(std::string& last_error) {
  std::lock_guard lock(mutex_);
  last_error = last_publish_error_;
  return publish_failures_.exchange(0);
}

void Connection::on_publish_error(jsCtx*, jsPubAckErr* error, void* closure) {
  auto* self = static_cast<Connection*>(closure);
  std::lock_guard lock(self->mutex_);
  self->last_publish_error_ =
      error->ErrText != nullptr ? error->ErrText : natsStatus_GetText(error->Err);
  self->publish_failures_.fetch_add(1);
}

}  // namespace flashsale::nats
