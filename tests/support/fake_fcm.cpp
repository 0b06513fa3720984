// See fake_fcm.hpp.
#include "support/fake_fcm.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <mutex>
#include <thread>

#include "http/server.hpp"
#include "metrics.hpp"

namespace flashsale::test {
namespace {

using nlohmann::json;

std::string token_of(const std::string& body) {
  const json parsed = json::parse(body, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("message") || !parsed["message"].is_object()) {
    return "";
  }
  return parsed["message"].value("token", "");
}

}  // namespace

json FakeFcm::Received::message() const { return json::parse(body).at("message"); }

struct FakeFcm::State {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{io.get_executor()};
  Metrics metrics;
  http::Router router;
  std::unique_ptr<http::Server> server;
  std::thread thread;
  mutable std::mutex mutex;
  std::vector<Received> received;
  std::map<std::string, std::deque<Answer>> scripts;
  std::vector<http::Reply> held;
  int sent = 0;
};

FakeFcm::FakeFcm() : state_(std::make_unique<State>()) {
  auto* s = state_.get();
  s->router.add(
      "POST", "/v1/projects/{project}/messages:send",
      [s](http::Request& req, const http::Reply& reply) {
        std::unique_lock lock(s->mutex);
        s->received.push_back({req.path, req.headers, req.body, std::chrono::steady_clock::now()});
        auto& script = s->scripts[token_of(req.body)];
        if (script.empty()) {
          const int n = ++s->sent;
          lock.unlock();
          return reply(
              http::json_response(200, {{"name", "projects/p/messages/" + std::to_string(n)}}));
        }
        const Answer answer = script.front();
        script.pop_front();
        if (answer.hang) return s->held.push_back(reply);
        lock.unlock();
        auto response = http::json_response(answer.status, answer.body);
        if (!answer.retry_after.empty()) {
          response.headers.emplace_back("Retry-After", answer.retry_after);
        }
        reply(std::move(response));
      });
  s->server = std::make_unique<http::Server>(
      s->io, http::Server::Options{"fcm", {"127.0.0.1", 0}, 100, std::chrono::seconds(30)},
      s->router, s->metrics);
  s->server->start();
  s->thread = std::thread([s] { s->io.run(); });
}

FakeFcm::~FakeFcm() {
  std::vector<http::Reply> held;
  {
    std::lock_guard lock(state_->mutex);
    held.swap(state_->held);
  }
  for (auto& reply : held) reply(http::json_response(503, json::object()));
  state_->guard.reset();
  state_->io.stop();
  state_->thread.join();
}

std::string FakeFcm::url() const {
  return "http://127.0.0.1:" + std::to_string(state_->server->port());
}

void FakeFcm::script(const std::string& token, Answer answer) {
  std::lock_guard lock(state_->mutex);
  state_->scripts[token].push_back(std::move(answer));
}

std::vector<FakeFcm::Received> FakeFcm::received() const {
  std::lock_guard lock(state_->mutex);
  return state_->received;
}

std::vector<FakeFcm::Received> FakeFcm::to(const std::string& token) const {
  std::vector<Received> out;
  for (auto& r : received()) {
    if (token_of(r.body) == token) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace flashsale::test
