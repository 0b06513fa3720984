// Runs work on many threads at once, to make real concurrent races in tests.
#pragma once

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace flashsale::test {

/// Calls fn(0..n-1) from `threads` threads; returns when all calls are done.
inline void parallel_for(int threads, int n, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) fn(i);
    });
  }
  for (auto& t : pool) t.join();
}

}  // namespace flashsale::test
