// See worker_pool.hpp.
#include "worker_pool.hpp"

#include <flashsale/sdk/threads.hpp>

#include "log.hpp"

namespace flashsale {

WorkerPool::WorkerPool(int threads, std::size_t queue_limit) : limit_(queue_limit) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() { stop(); }

bool WorkerPool::try_post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= limit_) return false;
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::size_t WorkerPool::queued() {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void WorkerPool::work() {
  sdk::name_this_thread("worker");
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      log::error(std::string("worker task threw: ") + e.what());
    }
  }
}

}  // namespace flashsale
