// Push end to end, over real sockets: the websocket channel's /v1/stream (own events only,
// resume with since=), the device registry, the fcm_stub channel against a fake FCM server run
// by this test, retries as durable jobs, and a hanging channel that holds up nobody else.
#include <catch2/catch.hpp>

#include "metrics.hpp"
#include "support/api_client.hpp"
#include "support/fake_fcm.hpp"
#include "support/http_client.hpp"
#include "support/scrape.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"
#include "support/ws_client.hpp"

using namespace flashsale;
using namespace flashsale::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

FakeFcm& fcm() {
  static FakeFcm server;
  return server;
}

// One service for this file: the default plugins plus fcm_stub (pointed at the fake) and a
// channel that hangs on every notification; a short push timeout.
const ServiceProcess& service() {
  static std::unique_ptr<ServiceProcess> process = [] {
    const json plugins = json::array(
        {{{"file", "flashsale_storage_postgres"}},
         {{"file", "flashsale_event_source_pg_wal"}},
         {{"file", "flashsale_scheduler_pg_queue"}},
         {{"file", "flashsale_push_websocket"}},
         {{"file", "flashsale_push_fcm_stub"}},
         {{"file", std::string(FLASHSALE_FIXTURE_DIR) + "/flashsale_fixture_hanging_channel.so"}}});
    const json settings = {
        {"fcm_stub",
         {{"endpoint", fcm().url()}, {"project_id", "demo"}, {"access_token", "test-token"}}},
        {"hanging", {{"hang_ms", 3600000}}},
        {"pg_queue", {{"backoff_base_ms", 200}, {"backoff_max_ms", 1000}}}};
    auto p = std::make_unique<ServiceProcess>(
        std::vector<std::string>{"serve"},
        std::vector<std::string>{"FLASHSALE_DATABASE_URL=" + fresh_database(),
                                 "FLASHSALE_PLUGINS_LOAD=" + plugins.dump(),
                                 "FLASHSALE_PLUGIN=" + settings.dump(),
                                 "FLASHSALE_PUSH_TIMEOUT_MS=300"});
    if (!p->wait_listening()) throw std::runtime_error("flashsale did not start:\n" + p->log());
    return p;
  }();
  return *process;
}

std::unique_ptr<WsClient> stream(const std::string& user, const std::string& query = "") {
  auto ws = std::make_unique<WsClient>(service().public_port, "/v1/stream" + query,
                                       Headers{{"X-User-Id", user}});
  return ws;
}

// The first frame of a stream: stream.ready.
json ready(WsClient& ws) {
  auto hello = ws.next();
  REQUIRE(hello);
  REQUIRE((*hello)["type"] == "stream.ready");
  return *hello;
}

HttpResult add_device(const std::string& user, const std::string& token) {
  return http_request(service().public_port, "POST", "/v1/devices", json{{"token", token}}.dump(),
                      {{"X-User-Id", user}});
}

std::string metrics() { return http_request(service().public_port, "GET", "/metrics").body; }

// A WebSocket upgrade as raw bytes, to see the answer of a refused one (the server then closes).
std::string raw_upgrade(const std::string& target, const std::string& extra_headers) {
  return raw_exchange(
      service().public_port,
      "GET " + target +
          " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
          "Connection: Upgrade, close\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n" +
          extra_headers + "\r\n",
      2s);
}

}  // namespace

TEST_CASE("a promoted user hears it on /v1/stream and by FCM; nobody else hears anything") {
  const auto& svc = service();
  const auto item = unique_name("push");
  create_item(svc.admin_port,
              {{"id", item}, {"name", "Sneakers"}, {"total_stock", 1}, {"payment_window_s", 600}});
  const auto alice = unique_name("alice"), bob = unique_name("bob"), carol = unique_name("carol");
  const std::string a = place(svc.public_port, alice, item, "k").json()["id"];
  const auto placed = place(svc.public_port, bob, item, "k").json();
  REQUIRE(placed["status"] == "waiting");
  const std::string b = placed["id"];
  const std::string token = "fcm-token-" + bob;
  REQUIRE(add_device(bob, token).status == 201);

  auto bob_ws = stream(bob);
  auto bob_phone = stream(bob);  // a second connection of the same user
  auto carol_ws = stream(carol);
  for (auto* ws : {bob_ws.get(), bob_phone.get(), carol_ws.get()}) {
    const auto hello = ready(*ws);
    CHECK(hello["replayed"] == 0);
    CHECK(hello["complete"] == true);
  }

  REQUIRE(cancel(svc.public_port, alice, a).status == 200);

  for (auto* ws : {bob_ws.get(), bob_phone.get()}) {
    const auto reserved = ws->next();
    REQUIRE(reserved);
    CHECK((*reserved)["type"] == "order.reserved");
    CHECK((*reserved)["order_id"] == b);
    CHECK((*reserved)["user_id"] == bob);
    CHECK((*reserved)["item_id"] == item);
    CHECK((*reserved)["data"]["promoted"] == true);
    const auto link = ws->next();
    REQUIRE(link);
    CHECK((*link)["type"] == "payment_link.ready");
    CHECK((*link)["order_id"] == b);
    CHECK_THAT((*link)["data"]["payment_link"].get<std::string>(), Catch::StartsWith("https://"));
  }
  // Alice's cancellation, Bob's events: nothing of it is Carol's.
  CHECK_FALSE(carol_ws->next(1500ms));

  REQUIRE(eventually([&] { return fcm().to(token).size() >= 2; }));
  const auto messages = fcm().to(token);
  CHECK(messages[0].path == "/v1/projects/demo/messages:send");
  CHECK(messages[0].headers.at("authorization") == "Bearer test-token");
  const json first = messages[0].message();
  CHECK(first["token"] == token);
  CHECK(first["notification"]["title"] == "You're in: a unit came back for you");
  CHECK(first["data"]["type"] == "order.reserved");
  CHECK(first["data"]["order_id"] == b);
  CHECK(first["data"]["item_id"] == item);
  CHECK(first["data"]["promoted"] == "true");
  for (const auto& [key, value] : first["data"].items()) {
    INFO(key);
    CHECK(value.is_string());  // FCM data values are strings
  }
  CHECK(messages[1].message()["data"]["type"] == "payment_link.ready");
  CHECK(fcm().to("fcm-token-" + carol).empty());
}

TEST_CASE("a reconnecting client gets what it missed with since=") {
  const auto& svc = service();
  const auto item = unique_name("resume");
  create_item(svc.admin_port, {{"id", item}, {"name", "Resume"}, {"total_stock", 5}});
  const auto dave = unique_name("dave");
  std::string last_seen;
  std::string order;
  {
    auto ws = stream(dave);
    ready(*ws);
    order = place(svc.public_port, dave, item, "k").json()["id"];
    const auto frames = ws->until([](const json& e) { return e["type"] == "payment_link.ready"; });
    REQUIRE(frames.size() == 2);
    CHECK(frames[0]["type"] == "order.reserved");
    CHECK(frames[0]["data"]["promoted"] == false);
    last_seen = frames.back()["event_id"];
  }
  // Offline: the order is cancelled; the cancellation reaches the channel meanwhile.
  REQUIRE(cancel(svc.public_port, dave, order).status == 200);
  REQUIRE(eventually([&] {
    auto probe = stream(dave, "?since=" + last_seen);
    return ready(*probe)["replayed"] == 1;
  }));

  auto back = stream(dave, "?since=" + last_seen);
  const auto hello = ready(*back);
  CHECK(hello["replayed"] == 1);
  CHECK(hello["complete"] == true);
  const auto missed = back->next();
  REQUIRE(missed);
  CHECK((*missed)["type"] == "order.cancelled");
  CHECK((*missed)["order_id"] == order);
  CHECK_FALSE(back->next(500ms));  // nothing twice

  // Without since=, nothing is replayed.
  auto fresh = stream(dave);
  CHECK(ready(*fresh)["replayed"] == 0);

  // A since= older than anything this process has seen (say, from before a restart) cannot be
  // served completely: the client is told to refetch.
  auto ancient = stream(dave, "?since=0/0/0");
  const auto stale = ready(*ancient);
  CHECK(stale["complete"] == false);
  CHECK(stale["replayed"] >= 1);
}

TEST_CASE("the replay window keeps to its size in bytes; a resume from before it is incomplete") {
  // A service of its own with a 4 KiB window: a dozen notifications, at a few hundred bytes each.
  const json plugins = json::array({{{"file", "flashsale_storage_postgres"}},
                                    {{"file", "flashsale_event_source_pg_wal"}},
                                    {{"file", "flashsale_scheduler_pg_queue"}},
                                    {{"file", "flashsale_push_websocket"}}});
  ServiceProcess svc({"serve"}, {"FLASHSALE_DATABASE_URL=" + fresh_database(),
                                 "FLASHSALE_PLUGINS_LOAD=" + plugins.dump(),
                                 "FLASHSALE_PLUGIN_WEBSOCKET_REPLAY_WINDOW_KIB=4"});
  REQUIRE(svc.wait_listening());
  const auto item = unique_name("window");
  create_item(svc.admin_port,
              {{"id", item}, {"name", "Window"}, {"total_stock", 100}, {"per_user_limit", 100}});
  const auto frank = unique_name("frank");
  WsClient ws(svc.public_port, "/v1/stream", Headers{{"X-User-Id", frank}});
  REQUIRE(ws.next());  // stream.ready
  constexpr int kOrders = 20;
  for (int i = 0; i < kOrders; ++i) {
    const auto ok = place(svc.public_port, frank, item, "k" + std::to_string(i));
    REQUIRE(ok.status == 202);
  }
  // Each order: order.reserved, then payment_link.ready.
  std::vector<std::string> ids;
  for (int i = 0; i < 2 * kOrders; ++i) {
    const auto frame = ws.next();
    REQUIRE(frame);
    ids.push_back((*frame)["event_id"]);
  }
  const auto held = sample_value(scrape(svc.public_port), "flashsale_ws_replay_window_bytes");
  REQUIRE(held);
  CHECK(*held > 0);
  CHECK(*held <= 4096);

  // The oldest events left the window: a resume from the first is not complete (no event
  // stream here to fill the gap), though what the window still holds comes.
  WsClient early(svc.public_port, "/v1/stream?since=" + ids.front(), Headers{{"X-User-Id", frank}});
  const auto stale = early.next();
  REQUIRE(stale);
  CHECK((*stale)["complete"] == false);
  CHECK((*stale)["replayed"] > 0);
  CHECK((*stale)["replayed"] < 2 * kOrders - 1);
  // The newest are still in it.
  WsClient late(svc.public_port, "/v1/stream?since=" + ids[ids.size() - 3],
                Headers{{"X-User-Id", frank}});
  const auto fresh = late.next();
  REQUIRE(fresh);
  CHECK((*fresh)["complete"] == true);
  CHECK((*fresh)["replayed"] == 2);
  const auto missed = late.next();
  REQUIRE(missed);
  CHECK((*missed)["event_id"] == ids[ids.size() - 2]);
}

TEST_CASE("/v1/stream refuses an upgrade without identity or with a bad since") {
  const auto anonymous = raw_upgrade("/v1/stream", "");
  CHECK_THAT(anonymous, Catch::StartsWith("HTTP/1.1 401") && Catch::Contains("missing_identity"));
  const auto bad_since = raw_upgrade("/v1/stream?since=yesterday", "X-User-Id: erin\r\n");
  CHECK_THAT(bad_since, Catch::StartsWith("HTTP/1.1 400") && Catch::Contains("since must be"));
  const auto unknown = raw_upgrade("/v1/stream?from=1", "X-User-Id: erin\r\n");
  CHECK_THAT(unknown, Catch::StartsWith("HTTP/1.1 400") && Catch::Contains("'from'"));
  const auto plain =
      http_request(service().public_port, "GET", "/v1/stream", "", {{"X-User-Id", "erin"}});
  CHECK(plain.status == 426);
  auto ok = stream("erin");
  CHECK(ready(*ok)["user_id"] == "erin");
  CHECK_THAT(metrics(), Catch::Contains("flashsale_ws_connections{listener=\"public\"}"));
}

TEST_CASE("users who connected and left are forgotten, however many") {
  // Each user connects once, gets no event and closes. Before the sweep, every one of them stayed
  // in the channel's users map for the life of the process (a leak under a soak's users).
  const auto users = [] {
    return sample_value(scrape(service().public_port), "flashsale_ws_stream_users");
  };
  REQUIRE(users());
  const auto prefix = unique_name("passer");
  for (int i = 0; i < 1200; ++i) {
    auto ws = stream(prefix + "-" + std::to_string(i));
    ready(*ws);
  }
  // Swept once the map reaches 1,024 users (the channel's minimum sweep size).
  CHECK(*users() < 1024);
  auto stays = stream(prefix + "-stays");
  ready(*stays);
  CHECK(*users() >= 1);
}

TEST_CASE("devices: register, drop, and only one's own") {
  const auto frank = unique_name("frank"), grace = unique_name("grace");
  const auto token = "tok-" + frank;
  const auto created = add_device(frank, token);
  CHECK(created.status == 201);
  CHECK(created.json()["token"] == token);
  CHECK(add_device(frank, token).status == 201);  // again: same answer, one row
  CHECK(http_request(service().public_port, "POST", "/v1/devices", R"({"token": "x"})").status ==
        401);
  CHECK(http_request(service().public_port, "POST", "/v1/devices", R"({"token": ""})",
                     {{"X-User-Id", frank}})
            .status == 400);
  CHECK(http_request(service().public_port, "POST", "/v1/devices",
                     R"({"token": "a", "platform": "ios"})", {{"X-User-Id", frank}})
            .status == 400);
  CHECK(http_request(service().public_port, "POST", "/v1/devices", R"({"token": 5})",
                     {{"X-User-Id", frank}})
            .status == 400);
  // Another user cannot drop it.
  CHECK(http_request(service().public_port, "DELETE", "/v1/devices/" + token, "",
                     {{"X-User-Id", grace}})
            .status == 404);
  CHECK(http_request(service().public_port, "DELETE", "/v1/devices/" + token, "",
                     {{"X-User-Id", frank}})
            .status == 204);
  CHECK(http_request(service().public_port, "DELETE", "/v1/devices/" + token, "",
                     {{"X-User-Id", frank}})
            .status == 404);
}

TEST_CASE("FCM answers: 503 with Retry-After becomes a retry job; UNREGISTERED drops the token") {
  const auto& svc = service();
  const auto item = unique_name("fcm");
  create_item(svc.admin_port, {{"id", item}, {"name", "Retry"}, {"total_stock", 5}});
  const auto henry = unique_name("henry"), iris = unique_name("iris");
  const auto busy = "busy-" + henry, gone = "gone-" + iris, witness = "witness-" + iris;
  REQUIRE(add_device(henry, busy).status == 201);
  REQUIRE(add_device(iris, gone).status == 201);
  REQUIRE(add_device(iris, witness).status == 201);
  fcm().script(busy, {503, {{"error", {{"code", 503}, {"status", "UNAVAILABLE"}}}}, "1"});
  fcm().script(gone, {404,
                      {{"error",
                        {{"code", 404},
                         {"status", "NOT_FOUND"},
                         {"details",
                          {{{"@type", "type.googleapis.com/google.firebase.fcm.v1.FcmError"},
                            {"errorCode", "UNREGISTERED"}}}}}}},
                      ""});
  REQUIRE(place(svc.public_port, henry, item, "k").status == 202);
  const std::string iris_order = place(svc.public_port, iris, item, "k").json()["id"];

  // order.reserved to the busy token: refused once, then sent again by a job about 1 s later.
  REQUIRE(eventually(
      [&] {
        const auto got = fcm().to(busy);
        return std::count_if(got.begin(), got.end(), [](const FakeFcm::Received& r) {
                 return r.message()["data"]["type"] == "order.reserved";
               }) == 2;
      },
      20s));
  const auto tries = fcm().to(busy);
  CHECK(tries[0].message()["data"]["type"] == "order.reserved");
  const auto retried = std::find_if(tries.begin() + 1, tries.end(), [&](const auto& r) {
    return r.message()["data"]["event_id"] == tries[0].message()["data"]["event_id"];
  });
  REQUIRE(retried != tries.end());
  CHECK(retried->at - tries[0].at >= 900ms);
  for (const char* part : {"token", "notification", "data", "android"}) {
    CHECK(retried->message()[part] == tries[0].message()[part]);
  }

  // The gone token was dropped on FCM's answer: its owner no longer has it, and what follows
  // goes only to the user's other device.
  REQUIRE(eventually([&] { return !fcm().to(gone).empty(); }));
  REQUIRE(eventually([&] {
    return http_request(svc.public_port, "DELETE", "/v1/devices/" + gone, "", {{"X-User-Id", iris}})
               .status == 404;
  }));
  const auto sent_before = fcm().to(gone).size();
  REQUIRE(cancel(svc.public_port, iris, iris_order).status == 200);
  const auto cancelled_to = [&](const std::string& token) {
    const auto got = fcm().to(token);
    return std::any_of(got.begin(), got.end(), [](const FakeFcm::Received& r) {
      return r.message()["data"]["type"] == "order.cancelled";
    });
  };
  REQUIRE(eventually([&] { return cancelled_to(witness); }));
  CHECK_FALSE(cancelled_to(gone));
  CHECK(fcm().to(gone).size() == sent_before);
  CHECK_THAT(metrics(),
             Catch::Contains(R"(flashsale_push_total{channel="fcm_stub",outcome="retry"})"));
}

TEST_CASE("a hanging channel holds up neither the stream nor the other channels") {
  const auto& svc = service();
  const auto item = unique_name("hang");
  create_item(svc.admin_port, {{"id", item}, {"name", "Hang"}, {"total_stock", 5}});
  const auto jack = unique_name("jack");
  auto ws = stream(jack);
  ready(*ws);
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> orders;
  orders.reserve(3);
  for (int i = 0; i < 3; ++i) {
    orders.push_back(
        place(svc.public_port, jack + "-" + std::to_string(i), item, "k").json()["id"]);
  }
  // The hanging channel's first notification waits out push.timeout_ms (300 ms); the ones after
  // it skip the stuck channel at once. The websocket channel is not waiting on any of it.
  const std::string own = place(svc.public_port, jack, item, "k").json()["id"];
  const auto frames =
      ws->until([](const json& e) { return e["type"] == "payment_link.ready"; }, 30s);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0]["order_id"] == own);
  // Well within the 1 h the hanging channel would need (generous: the machine may be busy).
  CHECK(std::chrono::steady_clock::now() - started < 20s);
  // What the hanging channel could not take waits in the job queue as push jobs.
  REQUIRE(eventually([&] {
    const auto jobs =
        http_request(svc.admin_port, "GET", "/admin/jobs?state=queued&limit=1000").json();
    return std::any_of(jobs["jobs"].begin(), jobs["jobs"].end(), [&](const json& j) {
      return j["kind"] == "push" && j["payload"]["channel"] == "hanging" &&
             j["payload"]["notification"]["order_id"] == own;
    });
  }));
  const auto text = metrics();
  CHECK_THAT(text, Catch::Contains(R"(flashsale_push_total{channel="hanging",outcome="timeout"})"));
  CHECK_THAT(text, Catch::Contains(R"(flashsale_push_latency_seconds_count{channel="websocket"})"));
}
