// Coalesces concurrent placements for one item into batches: while an item's batch is in the
// database, new placements for it queue up and all go into the next batch, granted in arrival
// order by one statement. Nobody waits for a timer: a lone request runs at once. Different
// items run in parallel on the worker threads, taking turns batch by batch.
#pragma once

#include <prometheus/gauge.h>

#include <condition_variable>
#include <deque>
#include <flashsale/sdk/storage.hpp>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace flashsale::plugins::postgres {

struct PendingPlacement {
  sdk::PlaceRequest request;
  sdk::Storage::Done done;
};

class PlaceCoalescer {
 public:
  /// Runs one batch for one item; must call every placement's `done` exactly once.
  using RunBatch = std::function<void(const std::string& item, std::vector<PendingPlacement>&)>;

  /// `pending`, if set, follows the number of queued placements (flashsale_place_pending).
  PlaceCoalescer(int threads, std::size_t max_batch, std::size_t max_pending, RunBatch run,
                 prometheus::Gauge* pending = nullptr);
  ~PlaceCoalescer();  ///< finishes what is queued, then joins
  PlaceCoalescer(const PlaceCoalescer&) = delete;
  PlaceCoalescer& operator=(const PlaceCoalescer&) = delete;

  /// Queues a placement; answers `overloaded` at once when max_pending are already queued.
  void submit(sdk::PlaceRequest request, sdk::Storage::Done done);

 private:
  struct ItemQueue {
    std::deque<PendingPlacement> pending;
    bool scheduled = false;  // in ready_ or being run
  };
  void work();

  std::size_t max_batch_;
  std::size_t max_pending_;
  RunBatch run_;
  prometheus::Gauge* pending_gauge_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::unordered_map<std::string, ItemQueue> items_;
  std::deque<std::string> ready_;  // items with pending placements and no batch running
  std::size_t pending_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace flashsale::plugins::postgres
