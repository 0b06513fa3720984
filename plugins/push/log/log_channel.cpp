// push/log: the smallest real push channel. Writes each notification as one JSON line to the
// host log. It is the worked example of docs/plugin-sdk.md: copy this folder to start a channel.
#include <flashsale/sdk/push.hpp>
#include <flashsale/sdk/settings.hpp>
#include <nlohmann/json.hpp>

namespace flashsale::plugins::log {

class LogChannel final : public sdk::PushChannel {
 public:
  explicit LogChannel(sdk::HostContext& host) : host_(host) {
    // Its settings, `plugin.log` in the config: refused with a message naming the key.
    sdk::Settings settings(host);
    if (settings.choice("level", "info", {"info", "debug"}) == "debug") {
      level_ = sdk::LogLevel::debug;
    }
    settings.done();
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

}  // namespace flashsale::plugins::log

FLASHSALE_PLUGIN(flashsale::plugins::log::LogChannel, "log", "1.0.0")
