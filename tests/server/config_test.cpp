// Config: defaults, file and environment overrides, and every kind of bad input is refused
// with a message naming the key.
#include "config.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_cluster.hpp"

using flashsale::ConfigError;
using flashsale::load_config;
using Env = std::map<std::string, std::string>;

namespace {

std::filesystem::path write_file(const std::string& text) {
  auto path = flashsale::test::temp_dir() / "config.json";
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::optional<std::filesystem::path>& file, const Env& env) {
  try {
    load_config(file, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("defaults match the documented values") {
  const auto c = load_config(std::nullopt, {});
  CHECK(c.database_url.empty());
  CHECK(c.embedded_dir == "var/pg");
  CHECK(c.http_listen.to_string() == "127.0.0.1:8080");
  CHECK(c.admin_listen.to_string() == "127.0.0.1:8081");
  CHECK(c.identity_header == "X-User-Id");
  REQUIRE(c.plugins.size() == 4);
  CHECK(c.plugins[0].file == "flashsale_storage_postgres");
  CHECK(c.plugins[0].required);
  CHECK(c.plugins[1].file == "flashsale_event_source_pg_wal");
  CHECK(c.plugins[1].required);
  CHECK(c.plugins[2].file == "flashsale_scheduler_pg_queue");
  CHECK(c.plugins[2].required);
  CHECK(c.plugins[3].file == "flashsale_push_websocket");
  CHECK(c.plugins[3].required);
  CHECK(c.plugin_config("websocket").empty());
}

TEST_CASE("a config file overrides only what it names") {
  const auto c = load_config(
      write_file(R"({"http": {"listen": "0.0.0.0:9000"}, "plugin": {"log": {"level": "debug"}}})"),
      {});
  CHECK(c.http_listen.host == "0.0.0.0");
  CHECK(c.http_listen.port == 9000);
  CHECK(c.http_threads == 2);
  CHECK(c.admin_listen.port == 8081);
  CHECK(c.plugin_config("log")["level"] == "debug");
}

TEST_CASE("FLASHSALE_* variables override the file") {
  const auto file = write_file(R"({"database": {"url": "postgresql://file/db"}})");
  const auto c = load_config(file, {{"FLASHSALE_DATABASE_URL", "postgresql://env/db"},
                                    {"FLASHSALE_HTTP_THREADS", "6"},
                                    {"FLASHSALE_PAYMENTS_WEBHOOK_SECRET", "s3cret"},
                                    {"FLASHSALE_IDENTITY_HEADER", "X-Gateway-User"},
                                    {"FLASHSALE_PLUGINS_LOAD", R"([{"file": "a"}])"},
                                    {"FLASHSALE_PLUGIN", R"({"log": {"level": "debug"}})"}});
  CHECK(c.database_url == "postgresql://env/db");
  CHECK(c.http_threads == 6);
  CHECK(c.webhook_secret == "s3cret");
  CHECK(c.identity_header == "X-Gateway-User");
  REQUIRE(c.plugins.size() == 1);
  CHECK(c.plugins[0].file == "a");
  CHECK(c.plugins[0].required);
  CHECK(c.plugin_config("log")["level"] == "debug");
}

TEST_CASE("a plugin key present in the file can be overridden by its own variable") {
  const auto c = load_config(write_file(R"({"plugin": {"log": {"level": "info"}}})"),
                             {{"FLASHSALE_PLUGIN_LOG_LEVEL", "debug"}});
  CHECK(c.plugin_config("log")["level"] == "debug");
}

TEST_CASE("every plugin key has its own variable, FLASHSALE_PLUGIN_<NAME>_<KEY>") {
  const auto c = load_config(std::nullopt, {{"FLASHSALE_PLUGIN_POSTGRES_POOL_SIZE", "4"},
                                            {"FLASHSALE_PLUGIN_PG_WAL_SLOT", "my_slot"},
                                            {"FLASHSALE_PLUGIN_FCM_STUB_ACCESS_TOKEN", "a.b.c"}});
  CHECK(c.plugin_config("postgres") == nlohmann::json{{"pool_size", 4}});
  CHECK(c.plugin_config("pg_wal") == nlohmann::json{{"slot", "my_slot"}});
  CHECK(c.plugin_config("fcm_stub") == nlohmann::json{{"access_token", "a.b.c"}});
  CHECK(c.plugin_config("pg_queue") == nlohmann::json::object());
  CHECK(c.unclaimed_plugin_variables({"postgres", "pg_wal", "fcm_stub"}).empty());
  CHECK(c.unclaimed_plugin_variables({"postgres", "pg_wal"}) ==
        std::vector<std::string>{"FLASHSALE_PLUGIN_FCM_STUB_ACCESS_TOKEN"});
}

TEST_CASE("bad configuration is refused with a message naming the key") {
  CHECK_THAT(error_of(write_file(R"({"http": {"lisen": "x"}})"), {}),
             Catch::Contains("unknown key 'http.lisen'"));
  CHECK_THAT(error_of(write_file(R"({"http": {"threads": "four"}})"), {}),
             Catch::Contains("'http.threads' must be an integer, not a string"));
  CHECK_THAT(error_of(write_file(R"({"http": {"threads": 2.5}})"), {}),
             Catch::Contains("'http.threads' must be an integer"));
  CHECK_THAT(error_of(write_file(R"({"http": {"threads": 0}})"), {}),
             Catch::Contains("'http.threads' must be between 1 and 256"));
  CHECK_THAT(error_of(write_file(R"({"http": {"listen": "localhost"}})"), {}),
             Catch::Contains("'http.listen' must be HOST:PORT"));
  CHECK_THAT(error_of(write_file(R"({"log": {"level": "loud"}})"), {}),
             Catch::Contains("'log.level' must be one of debug, info, warn, error"));
  CHECK_THAT(
      error_of(write_file(R"({"plugins": {"load": [{"file": "x", "optional": true}]}})"), {}),
      Catch::Contains("'plugins.load[0]': unknown key 'optional'"));
  CHECK_THAT(error_of(write_file(R"({"plugins": {"load": [{"required": true}]}})"), {}),
             Catch::Contains("'plugins.load[0]' needs \"file\""));
  CHECK_THAT(error_of(write_file("{not json"), {}), Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(write_file("[1, 2]"), {}), Catch::Contains("must be an object"));
  CHECK_THAT(error_of(std::filesystem::path("/nonexistent/flashsale.json"), {}),
             Catch::Contains("cannot be read"));
  CHECK_THAT(error_of(std::nullopt, {{"FLASHSALE_HTTP_LISEN", "x"}}),
             Catch::Contains("FLASHSALE_HTTP_LISEN matches no config key"));
  CHECK_THAT(error_of(std::nullopt, {{"FLASHSALE_HTTP_THREADS", "many"}}),
             Catch::Contains("FLASHSALE_HTTP_THREADS: 'many' is not an integer"));
  CHECK_THAT(error_of(std::nullopt, {{"FLASHSALE_PLUGINS_LOAD", "{}"}}),
             Catch::Contains("'plugins.load' must be an array, not an object"));
  // Found by fuzz/config_fuzzer.cpp (its corpus keeps the other cases): a variable for a section
  // replaced the section a later variable points into, and a JSON library exception came out of
  // load_config (exit 1, a message about JSON pointers) instead of this.
  CHECK_THAT(error_of(write_file(R"({"plugin": {"x": {"k": 1}}})"),
                      {{"FLASHSALE_PLUGIN", R"({"x": 5})"}, {"FLASHSALE_PLUGIN_X_K", "2"}}),
             Catch::Contains("FLASHSALE_PLUGIN_X_K: 'plugin.x.k' is no key once the variables "
                             "above it apply"));
}
