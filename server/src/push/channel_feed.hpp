// Push routing (SPEC §3, §6, §10): each loaded push channel gets its own event-bus consumer and
// its own thread, so a slow or hanging channel holds up only itself. A delivery that does not
// answer within `push.timeout_ms`, or answers "retry", becomes a durable `push` job in the
// scheduler; tokens the provider reports gone leave the device registry.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <flashsale/sdk/events.hpp>
#include <flashsale/sdk/push.hpp>
#include <flashsale/sdk/scheduler.hpp>
#include <flashsale/sdk/storage.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace prometheus {
class Registry;
class Counter;
class Histogram;
}  // namespace prometheus

namespace flashsale {
class EventBus;
}

namespace flashsale::push {

/// Runs a channel's deliver() calls on one thread, one at a time, each waited for at most a
/// timeout. A caller hands over a whole batch at once, so the two threads meet once per batch,
/// not once per notification. A call still running past its timeout is abandoned (its answer
/// ignored, the rest of its batch never started) and the lane is stuck until the call returns;
/// a stuck lane takes no new work. Callers take turns.
class Lane {
 public:
  Lane(const std::string& name, sdk::PushChannel& channel);
  ~Lane();
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;
  struct Result {
    std::optional<sdk::Delivery> answer;  ///< nullopt: no answer in time
    bool was_stuck = false;               ///< not even tried: an earlier call still hangs
  };
  using Batch = std::shared_ptr<const std::vector<sdk::Notification>>;
  /// One result per notification, in order. Each call gets `timeout` from the moment the one
  /// before it answered (the first, from now).
  std::vector<Result> run(const Batch& batch, std::chrono::milliseconds timeout);

 private:
  void loop();

  sdk::PushChannel& channel_;
  std::timed_mutex turn_;
  std::mutex mutex_;
  std::condition_variable cv_;
  Batch work_;                          // handed over, not yet taken by the thread
  std::vector<sdk::Delivery> answers_;  // the current batch's answers so far
  std::chrono::steady_clock::time_point last_answer_at_;
  std::uint64_t ticket_ = 0;  // the batch whose answers are awaited
  bool busy_ = false;
  std::atomic<bool> stuck_{false};  // busy in a call its caller gave up on
  bool stopping_ = false;
  std::thread thread_;
};

class ChannelFeed final : public sdk::EventConsumer {
 public:
  /// `scheduler` may be null: then what should be retried is dropped (and counted).
  ChannelFeed(std::string channel_name, sdk::PushChannel& channel, sdk::Storage& storage,
              sdk::Scheduler* scheduler, std::chrono::milliseconds timeout,
              prometheus::Registry& registry);
  [[nodiscard]] std::string name() const override { return "push:" + channel_name_; }
  void handle(const sdk::EventBatch& batch) override;
  /// Delivers a notification again from a `push` job.
  sdk::JobOutcome retry(const sdk::Job& job);

 private:
  // Acts on the lane's result for one notification: counts it, logs it, forgets the tokens
  // the provider reports gone; returns what happened, with the answer to act on in `answer`.
  std::string settle(const sdk::Notification& n, Lane::Result result, int attempt,
                     sdk::Delivery& answer);
  sdk::NewJob retry_job(const sdk::Notification& n, const sdk::Delivery& answer) const;

  std::string channel_name_;
  sdk::PushChannel& channel_;
  sdk::Storage& storage_;
  sdk::Scheduler* scheduler_;
  std::chrono::milliseconds timeout_;
  // This channel's series, made once (Family::Add is not for a hot path).
  std::map<std::string, prometheus::Counter*> outcomes_;  // by outcome
  prometheus::Histogram& latency_;
  Lane lane_;
};

/// Where a channel's feed subscribes. A channel that sends to devices (wants_device_tokens)
/// must send once: from the log, on the CDC leader. One that sends to what is connected to this
/// replica gets every event delivered here: from the event stream when there is one (the same
/// bus as the log's otherwise).
struct Buses {
  EventBus& from_log;
  EventBus& delivered;
};

/// Subscribes a feed per push channel to its bus and registers the `push` job handler.
void route_push(const Buses& buses,
                const std::vector<std::pair<std::string, sdk::PushChannel*>>& channels,
                sdk::Storage& storage, sdk::Scheduler* scheduler, std::chrono::milliseconds timeout,
                prometheus::Registry& registry);

}  // namespace flashsale::push
