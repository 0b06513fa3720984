// Every example of docs/api.md works as written (only the addresses differ: the service listens
// on free ports here) against a live service on the embedded default, and again after a restart
// on the same data folder: a reader who runs them twice meets no surprise.
#include <signal.h>

#include <catch2/catch.hpp>

#include "process.hpp"
#include "support/http_client.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;

TEST_CASE("every example of docs/api.md works, twice on the same data folder") {
  const auto dir = test::temp_dir() / "pg";
  for (int run = 1; run <= 2; ++run) {
    INFO("run " << run);
    test::ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_EMBEDDED_DIR=" + dir.string()});
    REQUIRE(service.wait_listening());
    REQUIRE(test::eventually([&] { return test::ready(service); }, std::chrono::seconds(30)));

    std::string output;
    const int rc = process::run(
        {"env", "FLASHSALE_EXAMPLES_PUBLIC=127.0.0.1:" + std::to_string(service.public_port),
         "FLASHSALE_EXAMPLES_ADMIN=127.0.0.1:" + std::to_string(service.admin_port),
         "FLASHSALE_EXAMPLES_BIN=" + std::filesystem::path(FLASHSALE_BIN).parent_path().string(),
         "bash", std::string(FLASHSALE_SOURCE_DIR) + "/tests/docs/run_examples.sh",
         std::string(FLASHSALE_SOURCE_DIR) + "/docs/api.md"},
        output);
    INFO(output);
    CHECK(rc == 0);
    CHECK(output.find("run_examples: all ") != std::string::npos);

    service.signal(SIGINT);
    const auto exit_code = service.wait_exit();
    INFO("service log:\n" << service.log());
    CHECK(exit_code == 0);
  }
}
