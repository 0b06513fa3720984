// push/log: the smallest real push channel. Writes each notification as one JSON line to the
// host log. It is the worked example of docs/plugin-sdk.md: copy this folder to start a channel.
#include <flashsale/sdk/push.hpp>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace flashsale::plugins {

class LogChannel final : public sdk::PushChannel {
 public:
  explicit LogChannel(sdk::HostContext& host) : host_(host) {
    for (const auto& [key, value] : host.config().items()) {
      if (key != "level") throw std::invalid_argument("unknown key plugin.log." + key);
      if (value != "info" && value != "debug") {
        throw std::invalid_argument("plugin.log.level must be \"info\" or \"debug\"");
      }
      level_ = value == "debug" ? sdk::LogLevel::debug : sdk::LogLevel::info;
    }
  }

  sdk::Delivery deliver(const sdk::Notification& n) override {
    nlohmann::json line = {{"event_id", n.event_id}, {"type", n.event_type}, {"user_id", n.user_id},
                           {"order_id", n.order_id}, {"title", n.title},     {"body", n.body},
                           {"data", n.data}};
    host_.log(level_, line.dump());
    return {};
  }

 private:
  sdk::HostContext& host_;
  sdk::LogLevel level_ = sdk::LogLevel::info;
};

}  // namespace flashsale::plugins

FLASHSALE_PLUGIN(flashsale::plugins::LogChannel, "log", "1.0.0")
