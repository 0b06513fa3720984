// See event_bus.hpp.
#include "event_bus.hpp"

#include <algorithm>
#include <flashsale/sdk/threads.hpp>
#include <iterator>

#include "log.hpp"

namespace flashsale {
namespace {

// Most transactions one consumer call covers.
constexpr std::size_t kMergeLimit = 512;

}  // namespace

EventBus::EventBus(std::size_t queue_limit, Late late) : limit_(queue_limit), late_(late) {}

EventBus::~EventBus() { stop(); }

void EventBus::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

void EventBus::subscribe(std::vector<std::string> types,
                         std::shared_ptr<sdk::EventConsumer> consumer) {
  auto s = std::make_unique<Subscriber>();
  s->types = {types.begin(), types.end()};
  s->consumer = std::move(consumer);
  std::lock_guard lock(mutex_);
  s->handled = published_;
  s->thread = std::thread([this, raw = s.get()] { run(*raw); });
  subscribers_.push_back(std::move(s));
}

void EventBus::stop(std::chrono::steady_clock::time_point drain_until) {
  close();
  {
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    changed_.wait_until(lock, drain_until, [this] {
      return std::all_of(subscribers_.begin(), subscribers_.end(),
                         [](const auto& s) { return s->queue.empty(); });
    });
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& s : subscribers_) {
    if (s->thread.joinable()) s->thread.join();
  }
}

void EventBus::publish(sdk::EventBatch batch) {
  std::unique_lock lock(mutex_);
  if (batch.end_lsn <= published_ && late_ == Late::dropped) return;  // a re-sent tail
  changed_.wait(lock, [this] {
    return closed_ || std::all_of(subscribers_.begin(), subscribers_.end(),
                                  [this](const auto& s) { return s->queue.size() < limit_; });
  });
  if (closed_) return;
  // Each consumer gets its own events (the last one those of the batch itself, moved): one copy
  // per event and consumer after the first, and none later (run() moves them on).
  for (std::size_t k = 0; k < subscribers_.size(); ++k) {
    Subscriber& s = *subscribers_[k];
    const bool last = k + 1 == subscribers_.size();
    sdk::EventBatch mine{batch.end_lsn, batch.commit_unix_us, {}};
    for (auto& e : batch.events) {
      if (!s.types.empty() && s.types.count(e.type) == 0) continue;
      if (last) {
        mine.events.push_back(std::move(e));
      } else {
        mine.events.push_back(e);
      }
    }
    s.queue.push_back(std::move(mine));
  }
  published_ = std::max(published_, batch.end_lsn);
  changed_.notify_all();
}

std::uint64_t EventBus::acknowledged() const {
  std::lock_guard lock(mutex_);
  std::uint64_t position = published_;
  for (const auto& s : subscribers_) position = std::min(position, s->handled);
  return position;
}

bool EventBus::idle() const {
  std::lock_guard lock(mutex_);
  return std::all_of(subscribers_.begin(), subscribers_.end(),
                     [](const auto& s) { return s->queue.empty(); });
}

void EventBus::run(Subscriber& s) {
  sdk::name_this_thread("bus:" + s.consumer->name());
  auto pause = std::chrono::milliseconds(100);
  std::size_t taken = 0;  // queued batches whose events are in `merged`, not handled yet
  sdk::EventBatch merged;
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !s.queue.empty(); });
    if (stopping_) return;
    // Everything queued goes in one call, so a consumer that does one round trip per call (the
    // job planner) keeps up with thousands of small transactions per second. The events move
    // into the call's batch; the queued batches stay put (so idle() and stop() see them) until
    // the call succeeds, and a failed call is made again with the same batch.
    if (taken == 0) {
      taken = std::min(s.queue.size(), kMergeLimit);
      merged = {0, s.queue[taken - 1].commit_unix_us, {}};
      std::size_t events = 0;
      for (std::size_t i = 0; i < taken; ++i) events += s.queue[i].events.size();
      merged.events.reserve(events);
      for (std::size_t i = 0; i < taken; ++i) {
        auto& queued = s.queue[i];
        merged.end_lsn = std::max(merged.end_lsn, queued.end_lsn);  // a late part may be last
        std::move(queued.events.begin(), queued.events.end(), std::back_inserter(merged.events));
        queued.events.clear();
      }
    }
    lock.unlock();
    bool done = true;
    if (!merged.events.empty()) {
      try {
        s.consumer->handle(merged);
        pause = std::chrono::milliseconds(100);
      } catch (const std::exception& e) {
        log::write(sdk::LogLevel::error, "events",
                   "consumer '" + s.consumer->name() + "' failed (retrying in " +
                       std::to_string(pause.count()) + " ms): " + e.what());
        done = false;
      }
    }
    if (done) merged.events.clear();  // freed now, not when the next call's batch is made
    lock.lock();
    if (done) {
      s.handled = std::max(s.handled, merged.end_lsn);
      s.queue.erase(s.queue.begin(), s.queue.begin() + static_cast<std::ptrdiff_t>(taken));
      taken = 0;
      changed_.notify_all();
    } else {
      changed_.wait_for(lock, pause, [this] { return stopping_; });
      pause = std::min(pause * 2, std::chrono::milliseconds(5000));
    }
  }
}

}  // namespace flashsale
