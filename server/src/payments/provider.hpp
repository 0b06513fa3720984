// The payment provider as the service calls it: make a checkout link for a reserved order,
// refund a payment that arrived too late. Plain HTTP/1.1 + JSON with a deadline per call.
#pragma once

#include <chrono>
#include <flashsale/http_client.hpp>
#include <stdexcept>
#include <string>

namespace flashsale::payments {

/// A failed call; transient() when retrying may help (network, timeout, 429, 5xx).
class ProviderError : public std::runtime_error {
 public:
  ProviderError(const std::string& message, bool transient)
      : std::runtime_error(message), transient_(transient) {}
  [[nodiscard]] bool transient() const { return transient_; }

 private:
  bool transient_;
};

class Provider {
 public:
  /// `base_url` like "http://127.0.0.1:8081/fake-payments"; throws std::invalid_argument if it
  /// is not an http:// URL with a host and port.
  Provider(const std::string& base_url, std::chrono::milliseconds timeout);

  /// POST {base}/links {"order_id","user_id","item_id"} -> {"url"}: the checkout link.
  std::string create_link(const std::string& order_id, const std::string& user_id,
                          const std::string& item_id) const;
  /// POST {base}/refunds {"order_id","event_id"}: idempotent per event_id on the provider side.
  void refund(const std::string& order_id, const std::string& event_id) const;

 private:
  std::string post(const std::string& path, const std::string& body) const;

  http_client::Client client_;
  std::chrono::milliseconds timeout_;
};

}  // namespace flashsale::payments
