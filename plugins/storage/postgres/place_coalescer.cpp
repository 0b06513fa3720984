// See place_coalescer.hpp.
#include "place_coalescer.hpp"

#include <flashsale/sdk/threads.hpp>

namespace flashsale::plugins::postgres {

PlaceCoalescer::PlaceCoalescer(int threads, std::size_t max_batch, std::size_t max_pending,
                               RunBatch run, prometheus::Gauge* pending)
    : max_batch_(max_batch),
      max_pending_(max_pending),
      run_(std::move(run)),
      pending_gauge_(pending) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

PlaceCoalescer::~PlaceCoalescer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void PlaceCoalescer::submit(sdk::PlaceRequest request, sdk::Storage::Done done) {
  {
    std::lock_guard lock(mutex_);
    if (pending_ < max_pending_ && !stopping_) {
      auto& queue = items_[request.item_id];
      const std::string item = request.item_id;
      queue.pending.push_back({std::move(request), std::move(done)});
      ++pending_;
      if (pending_gauge_ != nullptr) pending_gauge_->Set(static_cast<double>(pending_));
      if (!queue.scheduled) {
        queue.scheduled = true;
        ready_.push_back(item);
        wake_.notify_one();
      }
      return;
    }
  }
  done({sdk::StorageError::overloaded, "too many orders are waiting to be placed; retry shortly",
        ""});
}

void PlaceCoalescer::work() {
  sdk::name_this_thread("place-batches");
  for (;;) {
    std::string item;
    std::vector<PendingPlacement> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
      if (ready_.empty()) return;  // stopping, and everything queued has run
      item = std::move(ready_.front());
      ready_.pop_front();
      auto& queue = items_[item];
      const std::size_t n = std::min(max_batch_, queue.pending.size());
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.pending.front()));
        queue.pending.pop_front();
      }
      pending_ -= n;
      if (pending_gauge_ != nullptr) pending_gauge_->Set(static_cast<double>(pending_));
    }
    try {
      run_(item, batch);
    } catch (const std::exception& e) {
      // run_ answers as it goes; whatever it had not answered gets an error, never silence.
      for (auto& p : batch) {
        if (p.done) {
          p.done(
              {sdk::StorageError::unavailable, std::string("placement failed: ") + e.what(), ""});
        }
      }
    }
    {
      std::lock_guard lock(mutex_);
      auto& queue = items_[item];
      if (queue.pending.empty()) {
        items_.erase(item);
      } else {
        ready_.push_back(item);  // behind other items: hot items take turns
        wake_.notify_one();
      }
    }
  }
}

}  // namespace flashsale::plugins::postgres
