// The plugin loader: the shipped plugins load and work; every bad library is refused with one
// line naming the file and the reason, and the host keeps running.
#include <catch2/catch.hpp>
#include <fstream>

#include "event_bus.hpp"
#include "metrics.hpp"
#include "plugin_host.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;

namespace {

Config test_config(std::vector<PluginEntry> plugins = {}) {
  Config c = load_config(std::nullopt, {});
  c.plugins_dir = FLASHSALE_PLUGIN_DIR;
  c.plugins = std::move(plugins);
  return c;
}

std::string fixture(const std::string& name) {
  return std::string(FLASHSALE_FIXTURE_DIR) + "/flashsale_fixture_" + name + ".so";
}

std::string refusal(PluginHost& host, const std::string& file, bool required = true) {
  try {
    host.load({file, required});
  } catch (const PluginRefused& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

TEST_CASE("the shipped plugins load by name from plugins.dir") {
  Metrics metrics;
  EventBus bus(16);
  const Config config = test_config();
  PluginHost host(config, "postgresql://unused", metrics, bus);
  auto& storage = host.load({"flashsale_storage_postgres", true});
  CHECK(storage.kind == "storage");
  CHECK(storage.name == "postgres");
  auto& log = host.load({"flashsale_push_log", false});
  CHECK(log.kind == "push");
  CHECK(log.name == "log");
  CHECK(log.version == "1.0.0");
  CHECK_THAT(metrics.serialize(),
             Catch::Contains(R"(flashsale_plugin_info{kind="push",name="log",version="1.0.0"} 1)"));
}

TEST_CASE("a plugin whose requirement is not loaded is refused in one line") {
  Metrics metrics;
  EventBus bus(16);
  Config config = test_config();
  config.plugins = {{"flashsale_event_source_pg_wal", true}};
  PluginHost host(config, "postgresql://unused", metrics, bus);
  CHECK_THROWS_WITH(host.load_all(),
                    Catch::Contains("flashsale_event_source_pg_wal.so refused: it requires plugin "
                                    "'postgres', which is not loaded"));
  config.plugins = {{"flashsale_event_source_pg_wal", false}, {"flashsale_storage_postgres", true}};
  PluginHost optional(config, "postgresql://unused", metrics, bus);
  optional.load_all();  // pg_wal's requirement is loaded after it: fine
  CHECK(optional.plugins().size() == 2);
}

TEST_CASE("the storage plugin's health reflects the database") {
  Metrics metrics;
  EventBus bus(16);
  const Config config = test_config();
  const std::string url = test::fresh_database();
  test::migrate_plugins(url, {"flashsale_storage_postgres"});
  PluginHost good(config, url, metrics, bus);
  good.load({"flashsale_storage_postgres", true});
  const auto up = good.health();
  REQUIRE(up.size() == 1);
  CHECK(up[0].ok);

  Metrics other;
  PluginHost bad(config, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", other, bus);
  bad.load({"flashsale_storage_postgres", true});
  const auto down = bad.health();
  CHECK_FALSE(down[0].ok);
  CHECK_THAT(down[0].detail, Catch::Contains("cannot connect"));
}

TEST_CASE("bad plugins are refused with one line naming the file and the reason") {
  Metrics metrics;
  EventBus bus(16);
  const Config config = test_config();
  PluginHost host(config, "postgresql://unused", metrics, bus);

  const auto text_file = test::temp_dir() / "flashsale_push_text.so";
  std::ofstream(text_file) << "not a library";

  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string(FLASHSALE_PLUGIN_DIR) + "/flashsale_push_missing.so", "file not found"},
      {"flashsale_push_missing", "file not found"},
      {text_file.string(), "not a flashsale plugin (not a shared library"},
      {fixture("no_descriptor"), "not a flashsale plugin (it exports no flashsale_plugin"},
      {fixture("abi_mismatch"), "ABI mismatch: built for SDK ABI " +
                                    std::to_string(sdk::kAbiVersion + 1) +
                                    ", this host speaks ABI " + std::to_string(sdk::kAbiVersion)},
      {fixture("bad_magic"), "not a flashsale plugin (bad descriptor)"},
      {fixture("bad_build_id"), "built with another C++ toolchain (plugin libstdc++-99"},
      {fixture("unknown_kind"), "unknown kind 'teleporter'"},
      {fixture("factory_throws"), "factory threw: endpoint_url is not set"},
      {fixture("wrong_interface"), "does not implement the storage interface"},
  };
  for (const auto& [file, reason] : cases) {
    INFO(file);
    const std::string message = refusal(host, file);
    CHECK_THAT(message, Catch::Contains(reason));
    CHECK_THAT(message, Catch::StartsWith("plugin ") && Catch::Contains(".so refused: "));
    CHECK(message.find('\n') == std::string::npos);
  }
  CHECK(host.plugins().empty());
  // The host still loads good plugins after all those refusals.
  CHECK(host.load({"flashsale_push_log", false}).name == "log");
}

TEST_CASE("only one plugin of a singular kind, and no name twice") {
  Metrics metrics;
  EventBus bus(16);
  const Config config = test_config();
  PluginHost host(config, "postgresql://unused", metrics, bus);
  host.load({"flashsale_storage_postgres", true});
  CHECK_THAT(refusal(host, "flashsale_storage_postgres"),
             Catch::Contains("a plugin named 'postgres' is already loaded"));
}

TEST_CASE("load_all skips a refused optional plugin and stops on a refused required one") {
  Metrics metrics;
  EventBus bus(16);
  SECTION("optional push channel with another ABI: skipped, the rest loads") {
    const Config config = test_config({{"flashsale_storage_postgres", true},
                                       {fixture("abi_mismatch"), false},
                                       {"flashsale_push_log", false}});
    PluginHost host(config, "postgresql://unused", metrics, bus);
    host.load_all();
    REQUIRE(host.plugins().size() == 2);
    CHECK(host.plugins()[1]->name == "log");
  }
  SECTION("required plugin refused: load_all throws that plugin's line") {
    const Config config =
        test_config({{fixture("abi_mismatch"), true}, {"flashsale_storage_postgres", true}});
    PluginHost host(config, "postgresql://unused", metrics, bus);
    CHECK_THROWS_WITH(host.load_all(), Catch::Contains("ABI mismatch"));
  }
  SECTION("no storage plugin at all") {
    const Config config = test_config({{"flashsale_push_log", false}});
    PluginHost host(config, "postgresql://unused", metrics, bus);
    CHECK_THROWS_WITH(host.load_all(), Catch::Contains("no storage plugin loaded"));
  }
}

TEST_CASE("a plugin's config section reaches it, and it refuses unknown keys") {
  Metrics metrics;
  EventBus bus(16);
  Config config = test_config();
  config.tree["plugin"]["log"] = {{"colour", "red"}};
  PluginHost host(config, "postgresql://unused", metrics, bus);
  CHECK_THAT(refusal(host, "flashsale_push_log"),
             Catch::Contains("factory threw: unknown key plugin.log.colour"));
}
