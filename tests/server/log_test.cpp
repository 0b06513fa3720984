// The process log's limit on repeated warnings: an outage that fails every request writes a few
// lines per window, then one line saying how many were held back, never one line per request.
#include "log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/test_cluster.hpp"

using namespace flashsale;

namespace {

// Runs `body` with stderr going to a file; returns what was written.
template <typename Body>
std::string captured_stderr(const Body& body) {
  const auto path = test::temp_dir() / "log_test.stderr";
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(file >= 0);
  std::fflush(stderr);
  const int saved = ::dup(2);
  ::dup2(file, 2);
  body();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("repeated warnings are held back after a few, and counted when the window ends") {
  const std::string out = captured_stderr([] {
    for (int i = 0; i < 1000; ++i) {
      log::write(log::LogLevel::warn, "postgres",
                 "placement failed for order " + std::to_string(1000 + i) +
                     ": connection to 127.0.0.1:" + std::to_string(5000 + i) + " refused");
    }
    log::write(log::LogLevel::warn, "postgres", "a different warning");
    log::write(log::LogLevel::error, "pg_wal", "placement failed for order 1: connection refused");
    for (int i = 0; i < 20; ++i) log::info("informational lines are never held back");
    std::this_thread::sleep_for(std::chrono::milliseconds(10'200));
    log::info("the window is over");
  });
  INFO(out);
  CHECK(count(out, "WARN  postgres: placement failed for order") == 5);
  CHECK(count(out,
              "WARN  postgres: 995 more like this in 10 s were held back; the last: "
              "placement failed for "
              "order 1999: connection to 127.0.0.1:5999 refused") == 1);
  CHECK(count(out, "a different warning") == 1);
  CHECK(count(out, "ERROR pg_wal: placement failed for order 1: connection refused") == 1);
  CHECK(count(out, "informational lines are never held back") == 20);
  CHECK(count(out, "the window is over") == 1);
  // The summary comes before the line that ended the window.
  CHECK(out.find("995 more like this") < out.find("the window is over"));
}
