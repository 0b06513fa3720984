// Runs a handler's blocking part on the worker pool and replies from there; when the pool's
// queue is full the request is answered 503 overloaded at once (admission control).
#pragma once

#include <exception>

#include "http/message.hpp"
#include "log.hpp"
#include "worker_pool.hpp"

namespace flashsale::api {

inline http::Response overloaded() {
  auto r = http::error_response(503, "overloaded", "the service is busy; retry shortly");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

/// fn() -> http::Response runs on a worker thread; its result (or a 500 if it throws) is sent.
template <typename Fn>
void on_worker(WorkerPool& pool, const http::Reply& reply, Fn fn) {
  const bool queued = pool.try_post([reply, fn = std::move(fn)]() mutable {
    try {
      reply(fn());
    } catch (const std::exception& e) {
      log::error(std::string("request failed: ") + e.what());
      reply(http::error_response(500, "internal", "internal error"));
    }
  });
  if (!queued) reply(overloaded());
}

}  // namespace flashsale::api
