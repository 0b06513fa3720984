// event_stream/nats: the domain events in a NATS JetStream stream (SPEC §10, docs/events.md).
// The CDC leader appends each batch with asynchronous publishes and waits for JetStream's
// acknowledgement of every one before the host may acknowledge the log; each replica follows
// the stream with an ordered consumer from the moment it starts, regroups the messages into
// transactions and hands them to its local bus; a since= replay reads the stream's history.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <flashsale/nats/client.hpp>
#include <flashsale/sdk/event_stream.hpp>
#include <flashsale/sdk/settings.hpp>
#include <flashsale/sdk/threads.hpp>
#include <memory>
#include <mutex>
#include <thread>

#include "wire.hpp"

namespace flashsale::plugins::nats {
namespace {

using std::chrono::milliseconds;
namespace nc = flashsale::nats;

constexpr int64_t kFollowWaitMs = 200;  // longest wait for a message before stop() is looked at
// A transaction still missing events after the stream was quiet this long goes on as it is. Its
// rest may yet come: a leader killed in the middle of a transaction leaves the rest to the next
// leader, which appends it once it leads (goal: within 5 s). The host's bus delivers such a late
// part all the same, so waiting longer than a failover only keeps the item's order.
constexpr std::chrono::seconds kPartialQuiet{10};
constexpr int64_t kReplayWaitMs = 2000;  // longest wait for the next message of a replay
constexpr milliseconds kRetryPause{500};
constexpr jsErrCode kStreamNameInUse = static_cast<jsErrCode>(10058);

struct Settings {
  std::string servers = kDefaultServers;
  std::string stream = kDefaultStream;
  std::string subject_prefix = kDefaultSubjectPrefix;
  int replicas = 1;
  int max_age_s = 7 * 24 * 3600;
  int max_mb = 1024;
  int duplicate_window_s = 120;
  int publish_timeout_ms = 5000;
};

Settings parse_settings(const sdk::HostContext& host) {
  sdk::Settings in(host);
  Settings s;
  s.servers = in.text("servers", s.servers,
                      sdk::Settings::matching("(nats://[^,\\s]+)(,nats://[^,\\s]+)*"));
  s.stream = in.text("stream", s.stream, sdk::Settings::matching("[A-Za-z0-9_-]{1,64}"));
  s.subject_prefix = in.text("subject_prefix", s.subject_prefix,
                             sdk::Settings::matching("[a-z0-9_-]+(\\.[a-z0-9_-]+)*"));
  s.replicas = in.integer("replicas", s.replicas, 1, 5);
  s.max_age_s = in.integer("max_age_s", s.max_age_s, 60, 365 * 24 * 3600);
  s.max_mb = in.integer("max_mb", s.max_mb, 1, 1024 * 1024);
  s.duplicate_window_s = in.integer("duplicate_window_s", s.duplicate_window_s, 1, 24 * 3600);
  s.publish_timeout_ms = in.integer("publish_timeout_ms", s.publish_timeout_ms, 100, 600000);
  in.done();
  if (s.duplicate_window_s > s.max_age_s) {
    throw std::invalid_argument("plugin.nats.duplicate_window_s must not exceed max_age_s");
  }
  return s;
}

}  // namespace

class NatsStream final : public sdk::EventStream {
 public:
  explicit NatsStream(sdk::HostContext& host)
      : host_(host),
        settings_(parse_settings(host)),
        appended_(prometheus::BuildCounter()
                      .Name("flashsale_event_stream_appended_total")
                      .Help("Events this replica appended to the event stream and JetStream "
                            "acknowledged (as the CDC leader)")
                      .Register(host.metrics())
                      .Add({})),
        received_(prometheus::BuildCounter()
                      .Name("flashsale_event_stream_received_total")
                      .Help("Events this replica received from the event stream")
                      .Register(host.metrics())
                      .Add({})),
        connected_(prometheus::BuildGauge()
                       .Name("flashsale_event_stream_connected")
                       .Help("1 while this replica is connected to NATS with the stream set up")
                       .Register(host.metrics())
                       .Add({})) {}

  void start() override {
    conn_ =
        std::make_unique<nc::Connection>(settings_.servers, "flashsale/" + host_.node_id(), false);
    follower_ = std::thread([this] { follow_loop(); });
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    set_up_.notify_all();
    if (follower_.joinable()) follower_.join();
    conn_.reset();
  }

  sdk::Health health() override {
    if (ready_ && conn_ && conn_->connected()) {
      return {true, "stream " + settings_.stream + " (R" + std::to_string(settings_.replicas) +
                        ") on " + conn_->server()};
    }
    return {false, "no event stream: " + not_ready_reason() +
                       "; events wait, the log is not acknowledged past them"};
  }

  void follow(sdk::EventSink& sink) override { sink_ = &sink; }

  void append(const sdk::EventBatch& batch) override {
    if (!ready_) {
      // Right after start the follower is still connecting: wait for its first outcome, as for
      // an acknowledgement, rather than fail at once (an error in the log at every start).
      std::unique_lock lock(mutex_);
      set_up_.wait_for(lock, milliseconds(settings_.publish_timeout_ms),
                       [this] { return ready_ || stopping_ || !problem_.empty(); });
    }
    if (!ready_) throw std::runtime_error("the event stream is not set up: " + not_ready_reason());
    std::map<std::string, int> per_transaction;
    for (const auto& e : batch.events) ++per_transaction[e.lsn];
    std::string ignored;
    conn_->take_publish_failures(ignored);  // what earlier batches left behind is retried already
    jsPubOptions opts;
    jsPubOptions_Init(&opts);
    for (const auto& e : batch.events) {
      const std::string text = body(e);
      natsMsg* raw = nullptr;
      nc::check(natsMsg_Create(&raw, subject(settings_.subject_prefix, e).c_str(), nullptr,
                               text.data(), static_cast<int>(text.size())),
                "event message");
      nc::Msg msg = nc::own(raw);
      nc::check(
          natsMsgHeader_Set(raw, kTxEventsHeader, std::to_string(per_transaction[e.lsn]).c_str()),
          "event header");
      nc::check(natsMsgHeader_Set(raw, kCommitHeader, std::to_string(batch.commit_unix_us).c_str()),
                "event header");
      opts.MsgId = e.event_id.c_str();
      const natsStatus s = js_PublishMsgAsync(conn_->js(), &raw, &opts);
      if (raw == nullptr) static_cast<void>(msg.release());  // the library owns it now
      nc::check(s, "publishing event " + e.event_id);
    }
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = settings_.publish_timeout_ms;
    if (const natsStatus s = js_PublishAsyncComplete(conn_->js(), &wait); s == NATS_TIMEOUT) {
      natsMsgList pending;
      if (js_PublishAsyncGetPendingList(&pending, conn_->js()) == NATS_OK) {
        natsMsgList_Destroy(&pending);
      }
      throw std::runtime_error("JetStream did not acknowledge the events within " +
                               std::to_string(settings_.publish_timeout_ms) + " ms");
    } else {
      nc::check(s, "waiting for JetStream's acknowledgements");
    }
    std::string error;
    if (const auto failed = conn_->take_publish_failures(error); failed > 0) {
      throw std::runtime_error("JetStream refused " + std::to_string(failed) +
                               " event(s): " + error);
    }
    appended_.Increment(static_cast<double>(batch.events.size()));
  }

  bool replay(sdk::EventPosition since,
              const std::function<void(const sdk::Event&)>& each) override {
    if (!ready_) return false;
    jsStreamInfo* info = nullptr;
    jsErrCode code{};
    nc::check(js_GetStreamInfo(&info, conn_->js(), settings_.stream.c_str(), nullptr, &code),
              "stream info", code);
    const std::uint64_t first = info->State.FirstSeq;
    const std::uint64_t last = info->State.LastSeq;
    const std::uint64_t stored = info->State.Msgs;
    jsStreamInfo_Destroy(info);
    if (stored == 0) return false;  // nothing kept: what came after `since` is unknown
    const auto first_position = position_at(first);
    const bool complete = first_position && *first_position <= since;
    // The first message after `since`: positions grow with the sequence.
    std::uint64_t lo = first;
    std::uint64_t hi = last + 1;
    while (lo < hi) {
      const std::uint64_t mid = lo + (hi - lo) / 2;
      const auto p = position_at(mid);
      if (p && *p > since) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    if (lo > last) return complete;
    nc::Subscription sub = subscribe(lo);
    for (std::uint64_t seq = 0; seq < last;) {
      natsMsg* raw = nullptr;
      if (natsSubscription_NextMsg(&raw, sub.get(), kReplayWaitMs) != NATS_OK) return false;
      nc::Msg msg = nc::own(raw);
      seq = nc::stream_sequence(raw);
      if (auto e = parse_body(
              {natsMsg_GetData(raw), static_cast<std::size_t>(natsMsg_GetDataLength(raw))})) {
        each(*e);
      }
    }
    return complete;
  }

 private:
  // Creates or updates the stream to the configured settings.
  void ensure_stream() {
    const std::string subjects = settings_.subject_prefix + ".>";
    const char* list[] = {subjects.c_str()};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = settings_.stream.c_str();
    cfg.Subjects = list;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = settings_.replicas;
    cfg.MaxAge = static_cast<int64_t>(settings_.max_age_s) * 1'000'000'000;
    cfg.MaxBytes = static_cast<int64_t>(settings_.max_mb) * 1024 * 1024;
    cfg.Duplicates = static_cast<int64_t>(settings_.duplicate_window_s) * 1'000'000'000;
    cfg.AllowDirect = true;
    jsStreamInfo* info = nullptr;
    jsErrCode code{};
    natsStatus s = js_AddStream(&info, conn_->js(), &cfg, nullptr, &code);
    if (s != NATS_OK && code == kStreamNameInUse) {
      s = js_UpdateStream(&info, conn_->js(), &cfg, nullptr, &code);
    }
    jsStreamInfo_Destroy(info);
    nc::check(s, "setting up JetStream stream " + settings_.stream, code);
  }

  nc::Subscription subscribe(std::uint64_t from) {
    return nc::ordered_consumer(*conn_, settings_.stream, settings_.subject_prefix + ".>", from);
  }

  // The position of the event stored at `seq`, read directly; nullopt if there is none.
  std::optional<sdk::EventPosition> position_at(std::uint64_t seq) {
    natsMsg* raw = nullptr;
    jsErrCode code{};
    const natsStatus s =
        js_GetMsg(&raw, conn_->js(), settings_.stream.c_str(), seq, nullptr, &code);
    if (s == NATS_NOT_FOUND) return std::nullopt;
    nc::check(s, "reading message " + std::to_string(seq) + " of " + settings_.stream, code);
    nc::Msg msg = nc::own(raw);
    return sdk::parse_event_id(nc::header(raw, kMsgIdHeader));
  }

  // Sets the stream up, then hands every new message to the sink, until stop(). On a failure it
  // starts again after the last message it handled, so nothing in between is skipped.
  void follow_loop() {
    sdk::name_this_thread("nats-follower");
    nc::Subscription sub(nullptr, &natsSubscription_Destroy);
    std::uint64_t last_seq = 0;
    auto last_message_at = std::chrono::steady_clock::now();
    while (!stopping_) {
      try {
        if (!sub) {
          ensure_stream();
          sub = subscribe(last_seq == 0 ? 0 : last_seq + 1);
          set_problem({});
          {
            std::lock_guard lock(mutex_);
            ready_ = true;
          }
          set_up_.notify_all();
          connected_.Set(1);
          host_.log(sdk::LogLevel::info,
                    "following stream " + settings_.stream + " on " + conn_->server());
        }
        natsMsg* raw = nullptr;
        const natsStatus s = natsSubscription_NextMsg(&raw, sub.get(), kFollowWaitMs);
        connected_.Set(conn_->connected() ? 1 : 0);
        if (s == NATS_TIMEOUT) {
          if (!pending_.events.empty() &&
              std::chrono::steady_clock::now() - last_message_at >= kPartialQuiet) {
            flush();
          }
          continue;
        }
        last_message_at = std::chrono::steady_clock::now();
        nc::check(s, "reading stream " + settings_.stream);
        nc::Msg msg = nc::own(raw);
        last_seq = std::max(last_seq, nc::stream_sequence(raw));
        on_message(raw);
      } catch (const std::exception& e) {
        if (problem() != e.what()) {
          host_.log(sdk::LogLevel::warn, std::string(e.what()) + " (retrying)");
        }
        set_problem(e.what());
        ready_ = false;
        connected_.Set(0);
        sub.reset();
        for (auto waited = milliseconds(0); waited < kRetryPause && !stopping_;
             waited += milliseconds(50)) {
          std::this_thread::sleep_for(milliseconds(50));
        }
      }
    }
    if (!pending_.events.empty()) flush();
  }

  // Regroups messages into transactions: a batch goes to the sink when it holds as many events
  // as the transaction had, or when the next transaction begins.
  void on_message(natsMsg* msg) {
    received_.Increment();
    auto e =
        parse_body({natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))});
    if (!e) {
      host_.log(sdk::LogLevel::error, "skipped a message that is no flashsale event (schema " +
                                          std::to_string(kSchemaVersion) + ") on " +
                                          natsMsg_GetSubject(msg));
      return;
    }
    if (!pending_.events.empty() && pending_.events.back().lsn != e->lsn) flush();
    std::size_t expected = 1;
    std::int64_t commit_us = 0;
    try {
      expected = std::stoul(nc::header(msg, kTxEventsHeader));
      commit_us = std::stoll(nc::header(msg, kCommitHeader));
    } catch (const std::exception&) {  // another writer's message: one event per transaction
    }
    pending_.end_lsn = *sdk::parse_lsn(e->lsn);
    pending_.commit_unix_us = commit_us;
    pending_.events.push_back(std::move(*e));
    if (pending_.events.size() >= expected) flush();
  }

  void flush() {
    sdk::EventBatch batch = std::move(pending_);
    pending_ = {};
    if (sink_ != nullptr) sink_->publish(std::move(batch));  // blocks while a consumer is behind
  }

  // Why the stream cannot be used now: the last failure, or that the connection is not there.
  std::string not_ready_reason() const {
    std::string why = problem();
    if (!why.empty()) return why;
    if (ready_) return "NATS unreachable at " + settings_.servers + " (reconnecting)";
    return "not yet connected to NATS at " + settings_.servers;
  }

  void set_problem(std::string text) {
    {
      std::lock_guard lock(mutex_);
      problem_ = std::move(text);
    }
    set_up_.notify_all();
  }
  std::string problem() const {
    std::lock_guard lock(mutex_);
    return problem_;
  }

  sdk::HostContext& host_;
  Settings settings_;
  prometheus::Counter& appended_;
  prometheus::Counter& received_;
  prometheus::Gauge& connected_;
  std::unique_ptr<nc::Connection> conn_;
  sdk::EventSink* sink_ = nullptr;
  sdk::EventBatch pending_;  // the follower's transaction being regrouped
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::thread follower_;
  mutable std::mutex mutex_;
  std::condition_variable set_up_;  // ready_, stopping_ or problem_ changed
  std::string problem_;             // why the stream is not set up, for health()
};

}  // namespace flashsale::plugins::nats

FLASHSALE_PLUGIN(flashsale::plugins::nats::NatsStream, "nats", "0.1.0", "")
