// EventBus, the unit: what is acknowledged is the minimum over consumers, a consumer gets what
// queued in one call (up to the merge limit), a slow consumer blocks the publisher
// (backpressure), a failing one is retried without moving on, and close() frees a blocked
// publisher.
#include "event_bus.hpp"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "support/service.hpp"

using namespace flashsale;
using namespace std::chrono_literals;
using test::eventually;

namespace {

sdk::EventBatch batch(std::uint64_t end_lsn, const std::string& type = "order.waiting") {
  sdk::Event e;
  e.type = type;
  e.event_id = std::to_string(end_lsn) + "/0";
  return {end_lsn, 0, {e}};
}

// A consumer that records what it got and holds each call while `held` is true.
class Recorder final : public sdk::EventConsumer {
 public:
  std::string name() const override { return "recorder"; }
  void handle(const sdk::EventBatch& b) override {
    std::unique_lock lock(mutex_);
    released_.wait(lock, [this] { return !held_; });
    if (failures_ > 0) {
      --failures_;
      throw std::runtime_error("not now");
    }
    calls_.push_back(b);
  }
  void hold(bool held) {
    {
      std::lock_guard lock(mutex_);
      held_ = held;
    }
    released_.notify_all();
  }
  void fail(int times) {
    std::lock_guard lock(mutex_);
    failures_ = times;
  }
  std::vector<sdk::EventBatch> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool held_ = false;
  int failures_ = 0;
  std::vector<sdk::EventBatch> calls_;
};

}  // namespace

TEST_CASE("the acknowledged position is the minimum over the consumers") {
  EventBus bus(16);
  auto fast = std::make_shared<Recorder>();
  auto slow = std::make_shared<Recorder>();
  bus.subscribe({}, fast);
  bus.subscribe({}, slow);
  slow->hold(true);
  bus.publish(batch(10));
  bus.publish(batch(20));
  REQUIRE(eventually([&] { return fast->calls().size() >= 1 && !fast->calls().empty(); }));
  REQUIRE(eventually([&] { return !fast->calls().empty() && fast->calls().back().end_lsn == 20; }));
  CHECK(bus.acknowledged() == 0);  // slow has handled nothing
  CHECK_FALSE(bus.idle());
  slow->hold(false);
  REQUIRE(eventually([&] { return bus.acknowledged() == 20; }));
  CHECK(bus.idle());
  bus.publish(batch(15));  // at or below what was published: a replayed tail, ignored
  CHECK(bus.acknowledged() == 20);
}

TEST_CASE("a stream's bus delivers the late part of a transaction; the position never goes back") {
  // What a replica's follower hands over when a CDC leader died in the middle of a transaction:
  // its first part, the next transactions, then its rest from the next leader.
  EventBus bus(16, EventBus::Late::delivered);
  auto consumer = std::make_shared<Recorder>();
  bus.subscribe({}, consumer);
  bus.publish(batch(10));
  bus.publish(batch(20));
  REQUIRE(eventually([&] { return bus.acknowledged() == 20; }));
  auto rest = batch(10);
  rest.events[0].event_id = "10/1";
  bus.publish(rest);
  REQUIRE(eventually([&] {
    const auto calls = consumer->calls();
    return !calls.empty() && calls.back().events.back().event_id == "10/1";
  }));
  CHECK(bus.acknowledged() == 20);  // handled up to 20 still, not back to 10
  bus.publish(batch(30));
  REQUIRE(eventually([&] { return bus.acknowledged() == 30; }));
}

TEST_CASE("a consumer gets everything queued in one call, in order, up to the merge limit") {
  EventBus bus(2000);
  auto consumer = std::make_shared<Recorder>();
  bus.subscribe({}, consumer);
  consumer->hold(true);
  bus.publish(batch(1));
  REQUIRE(eventually([&] { return !bus.idle(); }));
  for (std::uint64_t lsn = 2; lsn <= 700; ++lsn) bus.publish(batch(lsn));
  consumer->hold(false);
  REQUIRE(eventually([&] { return bus.acknowledged() == 700; }));
  const auto calls = consumer->calls();
  std::uint64_t expected = 1;
  for (const auto& call : calls) {
    CHECK(call.events.size() <= 512);  // the merge limit
    for (const auto& e : call.events) CHECK(e.event_id == std::to_string(expected++) + "/0");
  }
  CHECK(expected == 701);
  CHECK(calls.size() <= 3);  // the first alone, then the rest in merged calls
}

TEST_CASE("a consumer sees only its types; batches without its events still move it on") {
  EventBus bus(16);
  auto only_created = std::make_shared<Recorder>();
  bus.subscribe({"item.created"}, only_created);
  bus.publish(batch(1, "order.waiting"));
  bus.publish(batch(2, "item.created"));
  REQUIRE(eventually([&] { return bus.acknowledged() == 2; }));
  const auto calls = only_created->calls();
  REQUIRE(calls.size() == 1);
  REQUIRE(calls[0].events.size() == 1);
  CHECK(calls[0].events[0].type == "item.created");
}

TEST_CASE("a full queue blocks the publisher until the consumer catches up") {
  EventBus bus(4);
  auto consumer = std::make_shared<Recorder>();
  bus.subscribe({}, consumer);
  consumer->hold(true);
  auto publisher = std::async(std::launch::async, [&] {
    for (std::uint64_t lsn = 1; lsn <= 10; ++lsn) bus.publish(batch(lsn));
  });
  CHECK(publisher.wait_for(300ms) == std::future_status::timeout);  // blocked: backpressure
  consumer->hold(false);
  CHECK(publisher.wait_for(5s) == std::future_status::ready);
  REQUIRE(eventually([&] { return bus.acknowledged() == 10; }));
}

TEST_CASE("a consumer that throws gets the same events again and holds the position") {
  EventBus bus(16);
  auto consumer = std::make_shared<Recorder>();
  consumer->fail(2);
  bus.subscribe({}, consumer);
  bus.publish(batch(7));
  REQUIRE(eventually([&] { return consumer->calls().size() == 1; }, 5s));
  CHECK(consumer->calls()[0].end_lsn == 7);
  CHECK(bus.acknowledged() == 7);
}

TEST_CASE("close() frees a publisher blocked on a full bus and drops what it brought") {
  EventBus bus(2);
  auto consumer = std::make_shared<Recorder>();
  bus.subscribe({}, consumer);
  consumer->hold(true);
  auto publisher = std::async(std::launch::async, [&] {
    for (std::uint64_t lsn = 1; lsn <= 10; ++lsn) bus.publish(batch(lsn));
  });
  CHECK(publisher.wait_for(300ms) == std::future_status::timeout);
  bus.close();
  CHECK(publisher.wait_for(2s) == std::future_status::ready);
  consumer->hold(false);
  bus.stop(std::chrono::steady_clock::now() + 2s);  // drains what was queued, then stops
  CHECK(bus.acknowledged() <= 3);                   // nothing past the queue was handled
  CHECK(consumer->calls().back().end_lsn == bus.acknowledged());
}
