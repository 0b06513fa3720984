// push/hello through the SDK's test helpers: loaded from its built library as the host loads it.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <flashsale/sdk/testing.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace sdk = flashsale::sdk;
namespace testing = flashsale::sdk::testing;

namespace {

sdk::Notification reserved(std::vector<std::string> tokens) {
  sdk::Notification n;
  n.event_id = "0/16B3748/0";
  n.event_type = "order.reserved";
  n.user_id = "u-1";
  n.order_id = "o-1";
  n.title = "You got one!";
  n.device_tokens = std::move(tokens);
  return n;
}

}  // namespace

TEST_CASE("hello is a push channel that wants device tokens") {
  testing::TestHost host;
  auto loaded = testing::load_plugin<sdk::PushChannel>(HELLO_PLUGIN, host);
  CHECK(std::string(loaded.descriptor.name) == "hello");
  CHECK(std::string(loaded.descriptor.version) == "1.0.0");
  CHECK(loaded.plugin->wants_device_tokens());
}

TEST_CASE("hello greets each device and reports stale tokens") {
  testing::TestHost host(nlohmann::json{{"greeting", "Hi"}});
  auto channel = testing::load_plugin<sdk::PushChannel>(HELLO_PLUGIN, host).plugin;

  const auto delivery = channel->deliver(reserved({"t-1", "stale-2", "t-3"}));
  CHECK(delivery.outcome == sdk::Delivery::Outcome::delivered);
  CHECK(delivery.unregistered_tokens == std::vector<std::string>{"stale-2"});

  const auto logs = host.logs();
  REQUIRE(logs.size() == 2);
  CHECK(logs[0].message == "Hi t-1: You got one! (order.reserved)");
  CHECK(logs[1].message == "Hi t-3: You got one! (order.reserved)");
  CHECK_THAT(host.metrics_text(), Catch::Contains("flashsale_hello_sent_total 2"));
}

TEST_CASE("hello refuses a bad config, naming the key") {
  testing::TestHost typo(nlohmann::json{{"greting", "Hi"}});
  CHECK_THROWS_WITH(testing::load_plugin<sdk::PushChannel>(HELLO_PLUGIN, typo),
                    "unknown key plugin.hello.greting");
  testing::TestHost empty(nlohmann::json{{"greeting", ""}});
  CHECK_THROWS_AS(testing::load_plugin<sdk::PushChannel>(HELLO_PLUGIN, empty),
                  std::invalid_argument);
}

TEST_CASE("the loader refuses hello as another kind") {
  testing::TestHost host;
  CHECK_THROWS_WITH(testing::load_plugin<sdk::Storage>(HELLO_PLUGIN, host),
                    Catch::Contains("kind mismatch: it is a push plugin, not storage"));
}
