// PlaceCoalescer, the unit: placements of one item are batched in arrival order, a lone one runs
// at once, items take turns, past max_pending it answers overloaded, a throwing batch answers
// every caller, and destruction runs what is queued.
#include "place_coalescer.hpp"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "support/service.hpp"

using namespace flashsale;
using namespace std::chrono_literals;
using plugins::postgres::PendingPlacement;
using plugins::postgres::PlaceCoalescer;

namespace {

// Records batches; holds each while `held`.
struct Recorder {
  std::mutex mutex;
  std::condition_variable released;
  bool held = false;
  std::vector<std::pair<std::string, std::vector<std::string>>> batches;  // item, keys

  PlaceCoalescer::RunBatch run() {
    return [this](const std::string& item, std::vector<PendingPlacement>& batch) {
      std::unique_lock lock(mutex);
      released.wait(lock, [this] { return !held; });
      std::vector<std::string> keys;
      for (auto& p : batch) {
        keys.push_back(p.request.idempotency_key);
        std::exchange(p.done, nullptr)({sdk::StorageError::none, "", p.request.idempotency_key});
      }
      batches.emplace_back(item, keys);
    };
  }
  void hold(bool h) {
    {
      std::lock_guard lock(mutex);
      held = h;
    }
    released.notify_all();
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return batches.size();
  }
};

struct Answers {
  std::mutex mutex;
  std::map<std::string, sdk::StorageResult> by_key;
  sdk::Storage::Done done(const std::string& key) {
    return [this, key](sdk::StorageResult r) {
      std::lock_guard lock(mutex);
      by_key[key] = std::move(r);
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return by_key.size();
  }
};

}  // namespace

TEST_CASE("placements of one item wait for the running batch and go together, in order") {
  Recorder rec;
  Answers answers;
  PlaceCoalescer coalescer(2, 256, 1000, rec.run());
  rec.hold(true);
  coalescer.submit({"u0", "hot", "k0"}, answers.done("k0"));  // runs at once, alone
  std::this_thread::sleep_for(50ms);                          // k0's batch is now in the (held) run
  for (int i = 1; i <= 100; ++i) {
    coalescer.submit({"u" + std::to_string(i), "hot", "k" + std::to_string(i)},
                     answers.done("k" + std::to_string(i)));
  }
  rec.hold(false);
  REQUIRE(test::eventually([&] { return answers.size() == 101; }));
  std::lock_guard lock(rec.mutex);
  REQUIRE(rec.batches.size() == 2);
  CHECK(rec.batches[0].second == std::vector<std::string>{"k0"});
  REQUIRE(rec.batches[1].second.size() == 100);
  for (int i = 1; i <= 100; ++i) CHECK(rec.batches[1].second[i - 1] == "k" + std::to_string(i));
}

TEST_CASE("batches are at most max_batch, and items take turns") {
  Recorder rec;
  Answers answers;
  PlaceCoalescer coalescer(1, 10, 1000, rec.run());
  rec.hold(true);
  coalescer.submit({"u", "a", "a0"}, answers.done("a0"));
  std::this_thread::sleep_for(50ms);
  for (int i = 1; i <= 25; ++i) {
    coalescer.submit({"u", "a", "a" + std::to_string(i)}, answers.done("a" + std::to_string(i)));
  }
  coalescer.submit({"u", "b", "b0"}, answers.done("b0"));
  rec.hold(false);
  REQUIRE(test::eventually([&] { return answers.size() == 27; }));
  std::lock_guard lock(rec.mutex);
  std::vector<std::string> order;
  for (const auto& [item, keys] : rec.batches) {
    CHECK(keys.size() <= 10);
    order.push_back(item);
  }
  // a0 alone; b, which came while it ran, has its turn before a's next batches.
  CHECK(order == std::vector<std::string>{"a", "b", "a", "a", "a"});
}

TEST_CASE("past max_pending a placement is answered overloaded at once") {
  Recorder rec;
  Answers answers;
  PlaceCoalescer coalescer(1, 10, 3, rec.run());
  rec.hold(true);
  coalescer.submit({"u", "x", "x0"}, answers.done("x0"));
  std::this_thread::sleep_for(50ms);  // x0 runs (held); the queue is empty
  for (int i = 1; i <= 4; ++i) {
    coalescer.submit({"u", "x", "x" + std::to_string(i)}, answers.done("x" + std::to_string(i)));
  }
  {
    std::lock_guard lock(answers.mutex);
    REQUIRE(answers.by_key.count("x4") == 1);
    CHECK(answers.by_key["x4"].error == sdk::StorageError::overloaded);
  }
  rec.hold(false);
  REQUIRE(test::eventually([&] { return answers.size() == 5; }));
}

TEST_CASE("a batch that throws answers every caller it had not answered") {
  Answers answers;
  PlaceCoalescer coalescer(1, 10, 100, [](const std::string&, std::vector<PendingPlacement>&) {
    throw std::runtime_error("boom");
  });
  coalescer.submit({"u", "x", "k"}, answers.done("k"));
  REQUIRE(test::eventually([&] { return answers.size() == 1; }));
  std::lock_guard lock(answers.mutex);
  CHECK(answers.by_key["k"].error == sdk::StorageError::unavailable);
  CHECK(answers.by_key["k"].message == "placement failed: boom");
}

TEST_CASE("destruction runs what is queued before it joins") {
  Recorder rec;
  Answers answers;
  {
    PlaceCoalescer coalescer(1, 5, 100, rec.run());
    for (int i = 0; i < 20; ++i) {
      coalescer.submit({"u", "i" + std::to_string(i % 3), "k" + std::to_string(i)},
                       answers.done("k" + std::to_string(i)));
    }
  }
  CHECK(answers.size() == 20);
}
