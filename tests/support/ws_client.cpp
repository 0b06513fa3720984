// See ws_client.hpp.
#include "support/ws_client.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace flashsale::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

struct WsClient::Impl {
  net::io_context io;
  websocket::stream<net::ip::tcp::socket> ws{io};
  std::thread reader;
  mutable std::mutex mutex;
  std::condition_variable arrived;
  std::deque<std::string> frames;
  bool closed = false;
  std::string reason;
  std::uint16_t code = 0;
  std::atomic<std::chrono::steady_clock::time_point> resume_at{};
};

WsClient::WsClient(std::uint16_t port, const std::string& target, const Headers& headers)
    : impl_(std::make_unique<Impl>()) {
  auto& ws = impl_->ws;
  ws.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
  ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [name, value] : headers) req.set(name, value);
  }));
  ws.handshake("127.0.0.1", target);
  impl_->reader = std::thread([impl = impl_.get()] {
    for (;;) {
      std::this_thread::sleep_until(impl->resume_at.load());
      beast::flat_buffer buffer;
      beast::error_code ec;
      impl->ws.read(buffer, ec);
      std::lock_guard lock(impl->mutex);
      if (ec) {
        impl->closed = true;
        impl->reason = std::string(impl->ws.reason().reason.c_str());
        impl->code = impl->ws.reason().code;
        impl->arrived.notify_all();
        return;
      }
      impl->frames.push_back(beast::buffers_to_string(buffer.data()));
      impl->arrived.notify_all();
    }
  });
}

WsClient::~WsClient() {
  beast::error_code ignored;
  impl_->ws.next_layer().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  impl_->ws.next_layer().close(ignored);
  impl_->reader.join();
}

std::optional<nlohmann::json> WsClient::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  impl_->arrived.wait_for(lock, timeout, [&] { return !impl_->frames.empty() || impl_->closed; });
  if (impl_->frames.empty()) return std::nullopt;
  auto frame = nlohmann::json::parse(impl_->frames.front());
  impl_->frames.pop_front();
  return frame;
}

std::vector<nlohmann::json> WsClient::until(const std::function<bool(const nlohmann::json&)>& done,
                                            std::chrono::milliseconds timeout) {
  std::vector<nlohmann::json> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto frame = next(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!frame) break;
    out.push_back(*frame);
    if (done(out.back())) break;
  }
  return out;
}

void WsClient::pause_reading(std::chrono::milliseconds pause) {
  impl_->resume_at = std::chrono::steady_clock::now() + pause;
}

std::string WsClient::close_reason() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->reason;
}

std::uint16_t WsClient::close_code() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->code;
}

}  // namespace flashsale::test
