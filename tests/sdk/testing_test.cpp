// flashsale/sdk/testing.hpp: load_plugin() refuses exactly what the host refuses before running
// plugin code, in the host's words; TestHost and TestClient record what a plugin does.
#include <prometheus/counter.h>

#include <catch2/catch.hpp>
#include <flashsale/sdk/testing.hpp>
#include <fstream>
#include <stdexcept>
#include <string>

#include "event_bus.hpp"
#include "metrics.hpp"
#include "plugin_host.hpp"
#include "support/test_cluster.hpp"

namespace sdk = flashsale::sdk;
namespace testing = flashsale::sdk::testing;

namespace {

std::string host_fixture(const std::string& name) {
  return std::string(FLASHSALE_FIXTURE_DIR) + "/flashsale_fixture_" + name + ".so";
}
const std::string kLogPlugin = std::string(FLASHSALE_PLUGIN_DIR) + "/flashsale_push_log.so";

// What the real host says about `path`, from a fresh host each time.
std::string host_says(const std::string& path) {
  flashsale::Config config = flashsale::load_config(std::nullopt, {});
  config.plugins.clear();
  flashsale::Metrics metrics;
  flashsale::EventBus bus(16);
  flashsale::PluginHost host(config, "postgresql://unused", metrics, bus);
  try {
    host.load({path, true});
  } catch (const flashsale::PluginRefused& e) {
    return e.what();
  }
  return "(loaded)";
}

template <typename Kind = sdk::Plugin>
std::string sdk_says(const std::string& path) {
  testing::TestHost host;
  try {
    testing::load_plugin<Kind>(path, host);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

TEST_CASE("load_plugin refuses what the host refuses, with the host's line") {
  const auto not_a_library = flashsale::test::temp_dir() / "flashsale_push_text.so";
  std::ofstream(not_a_library) << "not an ELF file\n";
  const struct {
    std::string path;
    std::string reason;
  } cases[] = {
      {"/nonexistent/flashsale_push_gone.so", "file not found"},
      {not_a_library.string(), "not a flashsale plugin (not a shared library"},
      {host_fixture("no_descriptor"), "exports no flashsale_plugin descriptor"},
      {host_fixture("bad_magic"), "not a flashsale plugin (bad descriptor)"},
      {host_fixture("abi_mismatch"),
       "ABI mismatch: built for SDK ABI " + std::to_string(sdk::kAbiVersion + 1)},
      {host_fixture("bad_build_id"), "built with another C++ toolchain (plugin libstdc++-99"},
      {host_fixture("unknown_kind"), "unknown kind 'teleporter'"},
      {host_fixture("wrong_interface"), "does not implement the storage interface"},
  };
  for (const auto& c : cases) {
    INFO(c.path);
    const std::string ours = sdk_says(c.path);
    CHECK_THAT(ours,
               Catch::StartsWith("plugin " + c.path + " refused: ") && Catch::Contains(c.reason));
    CHECK(ours == host_says(c.path));
  }
}

TEST_CASE("load_plugin accepts what the host accepts") {
  CHECK(host_says(kLogPlugin) == "(loaded)");
  CHECK(sdk_says(kLogPlugin) == "(loaded)");
  CHECK(sdk_says<sdk::PushChannel>(kLogPlugin) == "(loaded)");
}

TEST_CASE("load_plugin<Kind> refuses a plugin of another kind before making it") {
  CHECK(sdk_says<sdk::Storage>(kLogPlugin) ==
        "plugin " + kLogPlugin + " refused: kind mismatch: it is a push plugin, not storage");
  CHECK(sdk_says<sdk::Scheduler>(host_fixture("factory_throws")) ==
        "plugin " + host_fixture("factory_throws") +
            " refused: kind mismatch: it is a push plugin, not scheduler");
}

TEST_CASE("load_plugin passes the factory's exception through unchanged") {
  testing::TestHost host;
  CHECK_THROWS_WITH(testing::load_plugin<sdk::PushChannel>(host_fixture("factory_throws"), host),
                    "endpoint_url is not set");
  CHECK_THAT(host_says(host_fixture("factory_throws")),
             Catch::EndsWith("refused: factory threw: endpoint_url is not set"));
}

TEST_CASE("one library loaded twice gives two objects, and stays loaded when one goes") {
  testing::TestHost host;
  auto first = testing::load_plugin<sdk::PushChannel>(kLogPlugin, host);
  auto second = testing::load_plugin<sdk::PushChannel>(kLogPlugin, host);
  first.plugin.reset();
  second.plugin->deliver({});
  CHECK(host.logs().size() == 1);
}

TEST_CASE("TestHost records what a plugin does with the host") {
  testing::TestHost host(nlohmann::json{{"answer", 42}});
  host.set_database_url("postgresql://db.example/flashsale");
  sdk::HostContext& context = host;
  CHECK(context.config() == nlohmann::json{{"answer", 42}});
  CHECK(context.database_url() == "postgresql://db.example/flashsale");

  context.log(sdk::LogLevel::warn, "careful");
  REQUIRE(host.logs().size() == 1);
  CHECK(host.logs()[0].level == sdk::LogLevel::warn);
  CHECK(host.logs()[0].message == "careful");

  prometheus::BuildCounter()
      .Name("flashsale_test_total")
      .Help("a counter")
      .Register(context.metrics())
      .Add({{"channel", "x"}})
      .Increment(3);
  CHECK_THAT(host.metrics_text(), Catch::Contains(R"(flashsale_test_total{channel="x"} 3)"));

  CHECK(context.event_sink().acknowledged() == 0);
  context.event_sink().publish({7, 0, {}});
  context.event_sink().publish({5, 0, {}});
  CHECK(host.published().size() == 2);
  CHECK(context.event_sink().acknowledged() == 7);

  struct Consumer final : sdk::EventConsumer {
    std::string name() const override { return "c"; }
    void handle(const sdk::EventBatch&) override {}
  };
  context.subscribe({"order.reserved"}, std::make_shared<Consumer>());
  REQUIRE(host.subscriptions().size() == 1);
  CHECK(host.subscriptions()[0].types == std::vector<std::string>{"order.reserved"});
  CHECK(host.subscriptions()[0].consumer->name() == "c");
}

TEST_CASE("TestHost takes WebSocket routes as the host does") {
  testing::TestHost host;
  auto client = std::make_shared<testing::TestClient>();
  sdk::UserStreamRoute route{
      "/v1/stream",
      [](const sdk::UserStreamRequest& r) { return r.query.count("bad") ? "bad query" : ""; },
      [](const sdk::UserStreamRequest& r, const std::shared_ptr<sdk::WebSocketClient>& c) {
        c->send("hello " + r.user_id);
        c->close("bye");
        c->send("too late");
      }};
  host.add_user_stream(route);
  CHECK_THROWS_WITH(host.add_user_stream(route), "add_user_stream: /v1/stream is already served");
  CHECK_THROWS_AS(host.add_user_stream({"v1/other", route.check, route.open}),
                  std::invalid_argument);
  CHECK_THROWS_AS(host.add_user_stream({"/v1/other", nullptr, route.open}), std::invalid_argument);

  const auto routes = host.user_streams();
  REQUIRE(routes.size() == 1);
  CHECK(routes[0].check({"u-1", {{"bad", "1"}}}) == "bad query");
  CHECK(routes[0].check({"u-1", {}}).empty());
  routes[0].open({"u-1", {}}, client);
  CHECK(client->frames() == std::vector<std::string>{"hello u-1"});
  CHECK(client->closed());
  CHECK(client->close_reason() == "bye");
  CHECK(client->send("x") == sdk::WebSocketClient::Sent::closed);
}
