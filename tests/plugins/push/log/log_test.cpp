// push/log, loaded from build/lib/flashsale the way the host loads it, with the SDK's TestHost:
// each notification is one JSON line in the host log; a bad config is refused naming the key.
#include <catch2/catch.hpp>
#include <flashsale/sdk/testing.hpp>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace sdk = flashsale::sdk;
namespace testing = flashsale::sdk::testing;

namespace {

const std::string kPlugin = std::string(FLASHSALE_PLUGIN_DIR) + "/flashsale_push_log.so";

sdk::Notification reserved() {
  sdk::Notification n;
  n.event_id = "0/16B3748/0";
  n.event_type = "order.reserved";
  n.user_id = "u-1";
  n.order_id = "o-1";
  n.item_id = "i-1";
  n.title = "You got one!";
  n.body = "Pay within 10 minutes.";
  n.data = {{"status", "reserved"}, {"expires_at", "2030-01-01T00:10:00Z"}};
  n.event_json = R"({"event_id":"0/16B3748/0","type":"order.reserved"})";
  return n;
}

// The message the host's factory call would wrap in "factory threw: ...".
std::string factory_error(const nlohmann::json& config) {
  testing::TestHost host(config);
  try {
    testing::load_plugin<sdk::PushChannel>(kPlugin, host);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("push/log describes itself as the push channel 'log'") {
  testing::TestHost host;
  auto loaded = testing::load_plugin<sdk::PushChannel>(kPlugin, host);
  CHECK(std::string(loaded.descriptor.kind) == "push");
  CHECK(std::string(loaded.descriptor.name) == "log");
  CHECK(std::string(loaded.descriptor.version) == "1.0.0");
  CHECK_FALSE(loaded.plugin->wants_device_tokens());
  CHECK(loaded.plugin->health().ok);
}

TEST_CASE("push/log writes each notification as one JSON line") {
  testing::TestHost host;
  auto channel = testing::load_plugin<sdk::PushChannel>(kPlugin, host).plugin;
  const auto delivery = channel->deliver(reserved());
  CHECK(delivery.outcome == sdk::Delivery::Outcome::delivered);
  CHECK(delivery.unregistered_tokens.empty());

  const auto logs = host.logs();
  REQUIRE(logs.size() == 1);
  CHECK(logs[0].level == sdk::LogLevel::info);
  const auto line = nlohmann::json::parse(logs[0].message);
  CHECK(line ==
        nlohmann::json{{"event_id", "0/16B3748/0"},
                       {"type", "order.reserved"},
                       {"user_id", "u-1"},
                       {"order_id", "o-1"},
                       {"title", "You got one!"},
                       {"body", "Pay within 10 minutes."},
                       {"data", {{"status", "reserved"}, {"expires_at", "2030-01-01T00:10:00Z"}}}});
  CHECK(logs[0].message.find('\n') == std::string::npos);
}

TEST_CASE("push/log logs at the configured level") {
  testing::TestHost host(nlohmann::json{{"level", "debug"}});
  auto channel = testing::load_plugin<sdk::PushChannel>(kPlugin, host).plugin;
  channel->deliver(reserved());
  channel->deliver(reserved());
  const auto logs = host.logs();
  REQUIRE(logs.size() == 2);
  CHECK(logs[0].level == sdk::LogLevel::debug);
  CHECK(logs[1].level == sdk::LogLevel::debug);
}

TEST_CASE("push/log refuses a bad config, naming the key") {
  CHECK(factory_error({{"colour", "blue"}}) == "unknown key plugin.log.colour");
  CHECK(factory_error({{"level", "loud"}}) == "plugin.log.level must be \"info\" or \"debug\"");
  CHECK(factory_error({{"level", 3}}) == "plugin.log.level must be \"info\" or \"debug\"");
  CHECK(factory_error({{"level", "info"}}) == "(accepted)");
}
