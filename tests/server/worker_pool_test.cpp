// WorkerPool, the unit: tasks run on its threads, a full queue refuses (admission control), and
// stop() runs what is queued before it joins, refusing what comes after.
#include "worker_pool.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <set>
#include <thread>

#include "support/service.hpp"

using namespace flashsale;
using namespace std::chrono_literals;

TEST_CASE("a full queue refuses the next task at once") {
  WorkerPool pool(1, 2);
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::atomic<int> ran{0};
  std::atomic<bool> running{false};
  REQUIRE(pool.try_post([gate, &ran, &running] {
    running = true;
    gate.wait();
    ++ran;
  }));
  REQUIRE(test::eventually([&] { return running.load(); }));  // the only thread is busy
  CHECK(pool.try_post([&ran] { ++ran; }));                    // queued: 1
  CHECK(pool.try_post([&ran] { ++ran; }));                    // queued: 2
  CHECK_FALSE(pool.try_post([&ran] { ++ran; }));              // full
  release.set_value();
  REQUIRE(test::eventually([&] { return ran == 3; }));
  CHECK(pool.try_post([&ran] { ++ran; }));  // room again
  REQUIRE(test::eventually([&] { return ran == 4; }));
}

TEST_CASE("stop() runs what is queued, then refuses") {
  std::atomic<int> ran{0};
  WorkerPool pool(2, 100);
  for (int i = 0; i < 50; ++i) {
    REQUIRE(pool.try_post([&ran] {
      std::this_thread::sleep_for(1ms);
      ++ran;
    }));
  }
  pool.stop();
  CHECK(ran == 50);
  CHECK_FALSE(pool.try_post([&ran] { ++ran; }));
}

TEST_CASE("tasks run on the pool's threads, concurrently") {
  WorkerPool pool(4, 100);
  std::mutex mutex;
  std::set<std::thread::id> threads;
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  for (int i = 0; i < 16; ++i) {
    REQUIRE(pool.try_post([&] {
      const int now = ++inside;
      int seen = most;
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(20ms);
      --inside;
      std::lock_guard lock(mutex);
      threads.insert(std::this_thread::get_id());
    }));
  }
  pool.stop();
  CHECK(threads.count(std::this_thread::get_id()) == 0);
  CHECK(threads.size() > 1);
  CHECK(most > 1);
}
