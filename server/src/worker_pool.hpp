// A fixed set of threads for blocking work (database calls, plugin health checks), fed by a
// bounded queue: when it is full, try_post refuses and the caller answers 503 overloaded.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace flashsale {

class WorkerPool {
 public:
  WorkerPool(int threads, std::size_t queue_limit);
  ~WorkerPool();  ///< runs what is queued, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `task`; false (and `task` dropped) if the queue is full or the pool is stopping.
  bool try_post(std::function<void()> task);
  /// Finishes queued tasks and joins the threads; later try_post calls return false.
  void stop();
  /// Tasks waiting for a thread (flashsale_worker_queue_length).
  [[nodiscard]] std::size_t queued();

 private:
  void work();

  std::size_t limit_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace flashsale
