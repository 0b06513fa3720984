// The event bus: an event source publishes each committed transaction's events; every
// subscribed consumer handles them in commit order on its own thread; the log position is
// acknowledged only up to what every consumer has durably handled.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <flashsale/sdk/events.hpp>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace flashsale {

class EventBus final : public sdk::EventSink {
 public:
  /// What publish() does with a batch at or below a position already published.
  enum class Late {
    dropped,    ///< the tail an event source re-sends after a reconnect (the write-ahead log)
    delivered,  ///< the late part of a transaction (a stream that never repeats itself, but
                ///< may deliver a transaction in two parts around a failover)
  };
  /// `queue_limit`: transactions a consumer may have waiting before publish() blocks.
  explicit EventBus(std::size_t queue_limit, Late late = Late::dropped);
  ~EventBus() override;  ///< stops the consumers; unhandled batches come again after a restart
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  /// Adds a consumer; it sees every batch published from now on. Thread-safe.
  void subscribe(std::vector<std::string> types, std::shared_ptr<sdk::EventConsumer> consumer);
  /// Shutdown, phase 1: takes no more batches. A publish() waiting for room returns at once, and
  /// every later one too, without queueing (what was not handled is never acknowledged, so it
  /// comes again after a restart). The event source can then stop.
  void close();
  /// Shutdown, phase 2: lets the consumers handle what is queued until `drain_until`, then stops
  /// them after the call each is in. Closes first if that was not done.
  void stop(std::chrono::steady_clock::time_point drain_until = {});

  void publish(sdk::EventBatch batch) override;
  [[nodiscard]] std::uint64_t acknowledged() const override;
  [[nodiscard]] bool idle() const override;

 private:
  struct Subscriber {
    std::set<std::string> types;  // empty: all
    std::shared_ptr<sdk::EventConsumer> consumer;
    std::deque<sdk::EventBatch> queue;
    std::uint64_t handled = 0;
    std::thread thread;
  };
  void run(Subscriber& s);

  std::size_t limit_;
  Late late_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
  std::uint64_t published_ = 0;
  bool closed_ = false;
  bool stopping_ = false;
};

}  // namespace flashsale
