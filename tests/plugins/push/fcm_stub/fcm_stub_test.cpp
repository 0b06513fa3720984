// push/fcm_stub, loaded through the host's PluginHost (as `flashsale serve` loads it), against a
// fake FCM HTTP v1 API served by the host's own HTTP server on port 0: the exact message it
// sends per device token, and what each FCM answer (or none) makes of the notification.
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <flashsale/http_client.hpp>
#include <flashsale/sdk/push.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "event_bus.hpp"
#include "metrics.hpp"
#include "plugin_host.hpp"
#include "support/fake_fcm.hpp"

using namespace flashsale;
using namespace std::chrono_literals;
using nlohmann::json;
using Outcome = sdk::Delivery::Outcome;
using Tokens = std::vector<std::string>;
using test::FakeFcm;

namespace {

// One fcm_stub channel, loaded by its own PluginHost with `settings` as `plugin.fcm_stub`.
class Instance {
 public:
  explicit Instance(const json& settings) {
    config_ = load_config(std::nullopt, {});
    config_.plugins_dir = FLASHSALE_PLUGIN_DIR;
    config_.plugins.clear();
    config_.tree["plugin"]["fcm_stub"] = settings;
    host_ = std::make_unique<PluginHost>(config_, "postgresql://unused", metrics_, bus_);
    auto& loaded = host_->load({"flashsale_push_fcm_stub", true});
    name_ = loaded.name;
    kind_ = loaded.kind;
    channel_ = dynamic_cast<sdk::PushChannel*>(loaded.object.get());
    REQUIRE(channel_ != nullptr);
  }
  sdk::PushChannel* operator->() const { return channel_; }
  [[nodiscard]] std::string metrics() const { return metrics_.serialize(); }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& kind() const { return kind_; }

 private:
  Config config_;
  Metrics metrics_;
  EventBus bus_{16};
  std::unique_ptr<PluginHost> host_;
  sdk::PushChannel* channel_ = nullptr;
  std::string name_, kind_;
};

std::string refusal(const json& settings) {
  try {
    Instance instance(settings);
  } catch (const PluginRefused& e) {
    return e.what();
  }
  return "(loaded)";
}

sdk::Notification reserved(Tokens tokens) {
  sdk::Notification n;
  n.event_id = "0/16B3748/0";
  n.event_type = "order.reserved";
  n.user_id = "u-1";
  n.order_id = "o-42";
  n.item_id = "sneakers";
  n.title = "You're in: a unit came back for you";
  n.body = "Your sneakers is held for you until 2030-01-01T00:10:00Z. Pay before then to keep it.";
  n.data = {{"promoted", "true"},
            {"reservation_id", "r-7"},
            {"reservation_expires_at", "2030-01-01T00:10:00Z"}};
  n.event_json =
      R"({"event_id":"0/16B3748/0","type":"order.reserved","committed_at":"2030-01-01T00:00:00.123456Z"})";
  n.device_tokens = std::move(tokens);
  return n;
}

json fcm_error(int code, const std::string& status, const std::string& error_code = "") {
  json error = {{"code", code}, {"status", status}, {"message", "fake " + status}};
  if (!error_code.empty()) {
    error["details"] = {{{"@type", "type.googleapis.com/google.firebase.fcm.v1.FcmError"},
                         {"errorCode", error_code}}};
  }
  return {{"error", error}};
}

// A port nothing listens on (bound, then released).
std::uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("fcm_stub is the push channel 'fcm_stub' and wants device tokens") {
  FakeFcm fcm;
  Instance channel(json{{"endpoint", fcm.url()}});
  CHECK(channel.name() == "fcm_stub");
  CHECK(channel.kind() == "push");
  CHECK(channel->wants_device_tokens());
  const auto health = channel->health();
  CHECK(health.ok);
  CHECK(health.detail == "sending to " + fcm.url() + " (project flashsale-demo)");
}

TEST_CASE("fcm_stub sends one FCM HTTP v1 message per device token") {
  FakeFcm fcm;
  Instance channel(json{{"endpoint", fcm.url()},
                        {"project_id", "flashsale-test"},
                        {"access_token", "ya29.test-token"}});
  const auto delivery = channel->deliver(reserved({"token-a", "token-b"}));
  CHECK(delivery.outcome == Outcome::delivered);
  CHECK(delivery.unregistered_tokens.empty());
  CHECK(delivery.retry_tokens.empty());
  CHECK(delivery.detail == "fcm: 2 of 2 device(s) sent");

  const auto got = fcm.received();
  REQUIRE(got.size() == 2);
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::string token = i == 0 ? "token-a" : "token-b";
    INFO(token);
    CHECK(got[i].path == "/v1/projects/flashsale-test/messages:send");
    CHECK(got[i].headers.at("authorization") == "Bearer ya29.test-token");
    CHECK(got[i].headers.at("content-type") == "application/json");
    const json expected = {
        {"message",
         {{"token", token},
          {"notification",
           {{"title", "You're in: a unit came back for you"},
            {"body",
             "Your sneakers is held for you until 2030-01-01T00:10:00Z. Pay before then to keep "
             "it."}}},
          {"data",
           {{"promoted", "true"},
            {"reservation_id", "r-7"},
            {"reservation_expires_at", "2030-01-01T00:10:00Z"},
            {"event_id", "0/16B3748/0"},
            {"type", "order.reserved"},
            {"order_id", "o-42"},
            {"item_id", "sneakers"}}},
          {"android", {{"priority", "high"}, {"ttl", "600s"}, {"collapse_key", "o-42"}}},
          {"apns",
           {{"headers",
             {{"apns-priority", "10"},
              // 2030-01-01T00:00:00Z (the event's commit) + 600 s
              {"apns-expiration", "1893456600"},
              {"apns-collapse-id", "o-42"}}},
            {"payload", {{"aps", {{"sound", "default"}}}}}}}}}};
    CHECK(json::parse(got[i].body) == expected);
  }
  CHECK(has_line(channel.metrics(), R"(flashsale_fcm_requests_total{status="200"} 2)"));
}

TEST_CASE("fcm_stub: defaults, ttl_s, and the data FCM would refuse") {
  FakeFcm fcm;
  Instance channel(json{{"endpoint", fcm.url()}, {"ttl_s", 0}});
  auto n = reserved({"token-a"});
  // The envelope's fields win over event data of the same name; FCM's reserved keys are dropped.
  n.data = {{"type", "spoofed"},       {"from", "x"},
            {"google.sent_time", "1"}, {"gcm.notification.title", "x"},
            {"message_type", "x"},     {"reason", "sale_closed"}};
  n.title = "Bad \xff byte";  // invalid UTF-8 must not make deliver() throw
  CHECK(channel->deliver(n).outcome == Outcome::delivered);

  const auto got = fcm.received();
  REQUIRE(got.size() == 1);
  CHECK(got[0].path == "/v1/projects/flashsale-demo/messages:send");
  CHECK(got[0].headers.count("authorization") == 0);
  const json message = got[0].message();
  CHECK(message["data"] == json{{"reason", "sale_closed"},
                                {"event_id", "0/16B3748/0"},
                                {"type", "order.reserved"},
                                {"order_id", "o-42"},
                                {"item_id", "sneakers"}});
  CHECK(message["android"]["ttl"] == "0s");
  CHECK(message["apns"]["headers"]["apns-expiration"] == "0");
  CHECK(message["notification"]["title"] == "Bad \xEF\xBF\xBD byte");
}

TEST_CASE("fcm_stub: no device tokens is delivered without a request") {
  FakeFcm fcm;
  Instance channel(json{{"endpoint", fcm.url()}});
  const auto delivery = channel->deliver(reserved({}));
  CHECK(delivery.outcome == Outcome::delivered);
  CHECK(delivery.unregistered_tokens.empty());
  CHECK(delivery.retry_tokens.empty());
  // deliver() is synchronous: a request it made would have been answered before it returned.
  CHECK(fcm.received().empty());
  CHECK(channel.metrics().find("flashsale_fcm_requests_total{") == std::string::npos);
}

TEST_CASE("fcm_stub: UNREGISTERED (404) puts the token in unregistered_tokens") {
  FakeFcm fcm;
  Instance channel(json{{"endpoint", fcm.url()}});

  SECTION("with the FcmError detail") {
    fcm.script("gone", {404, fcm_error(404, "NOT_FOUND", "UNREGISTERED")});
  }
  SECTION("a 404 Google error without details") {
    fcm.script("gone", {404, fcm_error(404, "NOT_FOUND")});
  }
  SECTION("errorCode UNREGISTERED under another status") {
    fcm.script("gone", {400, fcm_error(400, "INVALID_ARGUMENT", "UNREGISTERED")});
  }
  const auto delivery = channel->deliver(reserved({"gone"}));
  CHECK(delivery.outcome == Outcome::delivered);  // nothing left to do: not a failure
  CHECK(delivery.unregistered_tokens == Tokens{"gone"});
  CHECK(delivery.retry_tokens.empty());
  CHECK(delivery.detail == "fcm: 0 of 1 device(s) sent, 1 unregistered");
  CHECK(channel->health().ok);
}

TEST_CASE("fcm_stub: a 404 that is not FCM's fails without dropping tokens, and health says so") {
  FakeFcm fcm;
  // The fake serves /v1/projects/..., not /wrong/v1/projects/...: its router answers a plain 404.
  Instance channel(json{{"endpoint", fcm.url() + "/wrong"}});
  const auto delivery = channel->deliver(reserved({"token-a"}));
  CHECK(delivery.outcome == Outcome::failed);
  CHECK(delivery.unregistered_tokens.empty());
  CHECK_THAT(delivery.detail, Catch::Contains("404") && Catch::Contains("not an FCM answer"));
  const auto health = channel->health();
  CHECK_FALSE(health.ok);
  CHECK_THAT(health.detail, Catch::Contains("plugin.fcm_stub.endpoint"));
}

TEST_CASE("fcm_stub: 429 and 5xx are retried after the delay FCM asks for") {
  FakeFcm fcm;
  Instance channel(json{{"endpoint", fcm.url()}});
  struct Case {
    int status;
    std::string fcm_status;
    std::string retry_after;
    std::chrono::milliseconds expected;
  };
  const std::vector<Case> cases = {
      {429, "RESOURCE_EXHAUSTED", "7", 7000ms},
      {429, "RESOURCE_EXHAUSTED", "", 60000ms},  // FCM's minimum for QUOTA_EXCEEDED
      {503, "UNAVAILABLE", "2", 2000ms},
      {503, "UNAVAILABLE", "", 0ms},  // 0: the host's backoff
      {500, "INTERNAL", "", 0ms},
  };
  for (const auto& c : cases) {
    INFO(c.status << " Retry-After '" << c.retry_after << "'");
    fcm.script("busy", {c.status, fcm_error(c.status, c.fcm_status), c.retry_after});
    const auto delivery = channel->deliver(reserved({"busy"}));
    CHECK(delivery.outcome == Outcome::retry);
    CHECK(delivery.retry_after == c.expected);
    CHECK(delivery.retry_tokens == Tokens{"busy"});
    CHECK(delivery.unregistered_tokens.empty());
    CHECK_THAT(delivery.detail, Catch::Contains(std::to_string(c.status) + " " + c.fcm_status));
  }
  CHECK(channel->health().ok);  // FCM being busy is not our misconfiguration
  const auto metrics = channel.metrics();
  CHECK(has_line(metrics, R"(flashsale_fcm_requests_total{status="429"} 2)"));
  CHECK(has_line(metrics, R"(flashsale_fcm_requests_total{status="503"} 2)"));
  CHECK(has_line(metrics, R"(flashsale_fcm_requests_total{status="500"} 1)"));
}

TEST_CASE("fcm_stub: 400 INVALID_ARGUMENT fails the token for good") {
  FakeFcm fcm;
  Instance channel(json{{"endpoint", fcm.url()}});
  fcm.script("bad", {400, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")});
  const auto delivery = channel->deliver(reserved({"bad"}));
  CHECK(delivery.outcome == Outcome::failed);
  CHECK(delivery.unregistered_tokens.empty());
  CHECK(delivery.retry_tokens.empty());
  CHECK(delivery.detail ==
        "fcm: 0 of 1 device(s) sent, 1 failed (bad: 400 INVALID_ARGUMENT: fake INVALID_ARGUMENT)");
  CHECK(channel->health().ok);  // one bad message says nothing about the setup
}

TEST_CASE("fcm_stub: 401 and 403 fail and turn health bad until a send succeeds") {
  FakeFcm fcm;
  Instance channel(json{{"endpoint", fcm.url()}, {"access_token", "expired"}});
  const bool unauthenticated = GENERATE(true, false);
  if (unauthenticated) {
    fcm.script("token-a", {401, fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR")});
  } else {
    fcm.script("token-a", {403, fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH")});
  }
  const auto refused = channel->deliver(reserved({"token-a"}));
  CHECK(refused.outcome == Outcome::failed);
  CHECK(refused.unregistered_tokens.empty());  // never forget tokens over our own credentials
  auto health = channel->health();
  CHECK_FALSE(health.ok);
  CHECK_THAT(health.detail, Catch::Contains(unauthenticated ? "401 UNAUTHENTICATED" : "403"));

  // Still bad after another refusal; good again once FCM takes a message.
  CHECK(channel->deliver(reserved({})).outcome == Outcome::delivered);
  CHECK_FALSE(channel->health().ok);
  CHECK(channel->deliver(reserved({"token-a"})).outcome == Outcome::delivered);
  health = channel->health();
  CHECK(health.ok);
  CHECK_THAT(health.detail, Catch::StartsWith("sending to "));
}

TEST_CASE("fcm_stub: an FCM that never answers is retried after timeout_ms") {
  FakeFcm fcm;
  Instance channel(json{{"endpoint", fcm.url()}, {"timeout_ms", 300}});
  fcm.script("slow", {200, json::object(), "", true});
  const auto started = std::chrono::steady_clock::now();
  const auto delivery = channel->deliver(reserved({"slow", "next"}));
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(delivery.outcome == Outcome::retry);
  CHECK(delivery.retry_after == 0ms);
  // The rest of the round is not tried: FCM is not answering.
  CHECK(delivery.retry_tokens == Tokens{"slow", "next"});
  CHECK_THAT(delivery.detail, Catch::Contains("no answer within 300 ms"));
  CHECK(took >= 300ms);
  CHECK(took < 5s);  // the configured timeout, not the 5 s default
  const auto metrics = channel.metrics();
  CHECK(has_line(metrics, R"(flashsale_fcm_requests_total{status="timeout"} 1)"));
  CHECK(metrics.find(R"(status="200")") == std::string::npos);
  CHECK(channel->health().ok);
}

TEST_CASE("fcm_stub: a refused connection is retried") {
  Instance channel(json{{"endpoint", "http://127.0.0.1:" + std::to_string(closed_port())}});
  const auto delivery = channel->deliver(reserved({"token-a", "token-b"}));
  CHECK(delivery.outcome == Outcome::retry);
  CHECK(delivery.retry_after == 0ms);
  CHECK(delivery.retry_tokens == Tokens{"token-a", "token-b"});
  CHECK_THAT(delivery.detail, Catch::Contains("refused"));
  CHECK(has_line(channel.metrics(), R"(flashsale_fcm_requests_total{status="network_error"} 1)"));
}

TEST_CASE("fcm_stub: several tokens with mixed answers") {
  FakeFcm fcm;
  Instance channel(json{{"endpoint", fcm.url()}});
  const auto gone = [&](const std::string& token) {
    fcm.script(token, {404, fcm_error(404, "NOT_FOUND", "UNREGISTERED")});
  };
  const auto bad = [&](const std::string& token) {
    fcm.script(token, {400, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")});
  };

  SECTION("one to retry: it and the untried rest are retried; the failed one is not") {
    gone("gone");
    bad("bad");
    fcm.script("busy", {503, fcm_error(503, "UNAVAILABLE", "UNAVAILABLE"), "3"});
    const auto delivery = channel->deliver(reserved({"ok", "gone", "bad", "busy", "later"}));
    CHECK(delivery.outcome == Outcome::retry);
    CHECK(delivery.retry_tokens == Tokens{"busy", "later"});
    CHECK(delivery.retry_after == 3000ms);
    CHECK(delivery.unregistered_tokens == Tokens{"gone"});
    CHECK(delivery.detail ==
          "fcm: 1 of 5 device(s) sent, 1 unregistered, 1 failed (bad: 400 INVALID_ARGUMENT: fake "
          "INVALID_ARGUMENT), 2 to retry (busy: 503 UNAVAILABLE: fake UNAVAILABLE)");
    std::vector<std::string> asked;
    for (const auto& r : fcm.received()) asked.push_back(r.message()["token"]);
    CHECK(asked == Tokens{"ok", "gone", "bad", "busy"});
  }
  SECTION("one sent and one failed: delivered, the failure in the detail") {
    gone("gone");
    bad("bad");
    const auto delivery = channel->deliver(reserved({"gone", "ok", "bad"}));
    CHECK(delivery.outcome == Outcome::delivered);
    CHECK(delivery.unregistered_tokens == Tokens{"gone"});
    CHECK(delivery.retry_tokens.empty());
    CHECK_THAT(delivery.detail, Catch::StartsWith("fcm: 1 of 3 device(s) sent, 1 unregistered, 1 "
                                                  "failed (bad: 400"));
  }
  SECTION("none sent and one failed: failed, the gone token still reported") {
    gone("gone");
    bad("bad");
    const auto delivery = channel->deliver(reserved({"gone", "bad"}));
    CHECK(delivery.outcome == Outcome::failed);
    CHECK(delivery.unregistered_tokens == Tokens{"gone"});
    CHECK(delivery.retry_tokens.empty());
  }
  SECTION("every token unregistered: delivered, nothing left to do") {
    gone("gone-1");
    gone("gone-2");
    const auto delivery = channel->deliver(reserved({"gone-1", "gone-2"}));
    CHECK(delivery.outcome == Outcome::delivered);
    CHECK(delivery.unregistered_tokens == Tokens{"gone-1", "gone-2"});
  }
}

TEST_CASE("fcm_stub refuses a bad config, naming the key") {
  const std::string ok = "http://127.0.0.1:9099";
  const auto refused = [](const json& settings) {
    const auto message = refusal(settings);
    INFO(message);
    const std::string prefix = "factory threw: ";
    const auto at = message.find(prefix);
    return at == std::string::npos ? message : message.substr(at + prefix.size());
  };
  CHECK(refused({{"endpoint", ok}, {"colour", "blue"}}) == "unknown key plugin.fcm_stub.colour");
  CHECK(refused(json::object()) ==
        "plugin.fcm_stub.endpoint is required: the FCM API's base URL, e.g. "
        "http://127.0.0.1:9099");
  CHECK(refused({{"endpoint", 9099}}) == "plugin.fcm_stub.endpoint must be a string");
  CHECK(refused({{"endpoint", "https://fcm.googleapis.com"}}) ==
        "plugin.fcm_stub.endpoint must be http://HOST[:PORT][/PATH], not "
        "'https://fcm.googleapis.com'");
  CHECK(refused({{"endpoint", "http://127.0.0.1:99999"}}) ==
        "plugin.fcm_stub.endpoint must be http://HOST[:PORT][/PATH], not "
        "'http://127.0.0.1:99999'");
  CHECK_THAT(refused({{"endpoint", ok}, {"project_id", "a/b"}}),
             Catch::StartsWith("plugin.fcm_stub.project_id must be"));
  CHECK(refused({{"endpoint", ok}, {"project_id", 7}}) ==
        "plugin.fcm_stub.project_id must be a string");
  CHECK_THAT(refused({{"endpoint", ok}, {"access_token", "two words"}}),
             Catch::StartsWith("plugin.fcm_stub.access_token must be printable ASCII"));
  CHECK_THAT(refused({{"endpoint", ok}, {"access_token", "x\r\nX-Evil: 1"}}),
             Catch::StartsWith("plugin.fcm_stub.access_token must be printable ASCII"));
  CHECK(refused({{"endpoint", ok}, {"timeout_ms", 0}}) ==
        "plugin.fcm_stub.timeout_ms must be an integer from 1 to 600000");
  CHECK(refused({{"endpoint", ok}, {"timeout_ms", "5000"}}) ==
        "plugin.fcm_stub.timeout_ms must be an integer from 1 to 600000");
  CHECK(refused({{"endpoint", ok}, {"ttl_s", 2419201}}) ==
        "plugin.fcm_stub.ttl_s must be an integer from 0 to 2419200");
  CHECK(refusal({{"endpoint", "http://[::1]:9099/fcm/"}}) == "(loaded)");
  CHECK(refusal({{"endpoint", ok},
                 {"project_id", "my-project-1"},
                 {"access_token", "ya29.a0-_~+/="},
                 {"timeout_ms", 1},
                 {"ttl_s", 2419200}}) == "(loaded)");
}

TEST_CASE("Retry-After as delta-seconds or an HTTP-date") {
  using http_client::parse_retry_after;
  const auto now = std::chrono::system_clock::from_time_t(1445412480 - 30);
  CHECK(parse_retry_after("7", now) == 7s);
  CHECK(parse_retry_after(" 120 ", now) == 120s);
  CHECK(parse_retry_after("99999999999999999999", now) == 86400s);  // capped at a day
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 30s);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 1h) == 0s);  // already past
  CHECK_FALSE(parse_retry_after("", now));
  CHECK_FALSE(parse_retry_after("-1", now));
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT junk", now));
}
