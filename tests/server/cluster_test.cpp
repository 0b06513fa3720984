// Replicas with the event stream (SPEC §10, ADR 0006), all real processes on loopback: nats-server
// nodes with JetStream, flashsale replicas on one PostgreSQL. What a client on one replica is
// told about what happened through another, replays from the stream's history, and NATS outages.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <flashsale/nats/client.hpp>
#include <flashsale/nats/contract.hpp>
#include <flashsale/pg/connection.hpp>
#include <flashsale/sdk/events.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "support/api_client.hpp"
#include "support/http_client.hpp"
#include "support/invariants.hpp"
#include "support/nats_cluster.hpp"
#include "support/parallel.hpp"
#include "support/scrape.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"
#include "support/ws_client.hpp"

using namespace flashsale;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A replica with the default plugins plus the event stream on `nats`.
std::unique_ptr<test::ServiceProcess> replica(const std::string& database_url,
                                              const test::NatsCluster& nats,
                                              const std::string& node) {
  const std::string plugins =
      R"([{"file":"flashsale_storage_postgres"},{"file":"flashsale_event_source_pg_wal"},)"
      R"({"file":"flashsale_scheduler_pg_queue"},{"file":"flashsale_push_websocket"},)"
      R"({"file":"flashsale_event_stream_nats"}])";
  return test::start_replica(
      database_url, node,
      {"FLASHSALE_PLUGINS_LOAD=" + plugins, "FLASHSALE_PLUGIN_NATS_SERVERS=" + nats.servers(),
       "FLASHSALE_PLUGIN_NATS_REPLICAS=" + std::string(nats.size() >= 3 ? "3" : "1")});
}

using test::ready;

// The event stream plugin's health on `s`.
bool stream_ok(const test::ServiceProcess& s) {
  const auto r = test::http_request(s.public_port, "GET", "/readyz").json();
  for (const auto& p : r["plugins"]) {
    if (p["kind"] == "event_stream") return p["ok"] == true;
  }
  return false;
}

std::unique_ptr<test::WsClient> stream(const test::ServiceProcess& s, const std::string& user,
                                       const std::string& query = "") {
  auto ws = std::make_unique<test::WsClient>(s.public_port, "/v1/stream" + query,
                                             test::Headers{{"X-User-Id", user}});
  return ws;
}

// /admin/stream on `s`, past its snapshot: every event this replica delivers.
std::unique_ptr<test::WsClient> admin_stream(const test::ServiceProcess& s) {
  auto ws = std::make_unique<test::WsClient>(s.admin_port, "/admin/stream");
  REQUIRE(ws->next().value()["type"] == "snapshot");
  return ws;
}

bool is_type(const json& frame, const std::string& type) { return frame.value("type", "") == type; }

}  // namespace

TEST_CASE(
    "a client on replica B is told of the promotion a cancel on replica A caused; "
    "another replica replays it from the stream") {
  test::NatsCluster nats(1);
  const std::string url = test::fresh_database();
  auto a = replica(url, nats, "node-a");
  auto b = replica(url, nats, "node-b");
  REQUIRE(test::eventually([&] { return ready(*a) && ready(*b) && stream_ok(*b); }, 30s));

  const std::string item = test::unique_name("stream");
  test::create_item(a->admin_port, {{"id", item}, {"name", "Streamed"}, {"total_stock", 1}});
  auto on_b = stream(*b, "second");
  REQUIRE(on_b->next().value()["type"] == "stream.ready");

  const std::string first = test::place(a->public_port, "first", item, "k").json()["id"];
  const auto second = test::place(a->public_port, "second", item, "k").json();
  REQUIRE(second["status"] == "waiting");
  REQUIRE(test::cancel(a->public_port, "first", first).status == 200);
  const auto promoted = on_b->until([](const json& f) { return is_type(f, "order.reserved"); });
  REQUIRE(!promoted.empty());
  CHECK(promoted.back()["order_id"] == second["id"]);
  CHECK(promoted.back()["data"]["promoted"] == true);
  const auto link = on_b->until([](const json& f) { return is_type(f, "payment_link.ready"); });
  REQUIRE(!link.empty());

  // The payment link was planned once, although two replicas run (in any state: the job may
  // record itself done a moment after the link it stored is streamed).
  const auto jobs = test::http_request(a->admin_port, "GET", "/admin/jobs?limit=1000");
  int links = 0;
  const json listed = jobs.json();
  for (const auto& j : listed["jobs"]) {
    if (j["kind"] == "make_payment_link" && j["payload"]["order_id"] == second["id"]) ++links;
  }
  CHECK(links == 1);

  // `flashsale events tail` reads the same stream, from its first message.
  std::string printed;
  REQUIRE(process::run({FLASHSALE_BIN, "events", "tail", "--since", "1", "--count", "4",
                        "--servers", nats.servers(), "--item", item},
                       printed) == 0);
  std::istringstream lines(printed);
  std::string line;
  std::vector<json> tailed;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.front() == '{') tailed.push_back(json::parse(line));
  }
  REQUIRE(tailed.size() == 4);
  CHECK(tailed[0]["type"] == "item.created");
  CHECK(tailed[0]["schema_version"] == 1);
  CHECK(tailed[0]["seq"] == 1);
  for (const auto& e : tailed) CHECK(e["item_id"] == item);

  // A replica started now never saw those events: its window is empty, the stream has them.
  auto c = replica(url, nats, "node-c");
  REQUIRE(test::eventually([&] { return ready(*c) && stream_ok(*c); }, 30s));
  auto on_c = stream(*c, "second", "?since=" + tailed[0]["event_id"].get<std::string>());
  const auto hello = on_c->next().value();
  CHECK(hello["type"] == "stream.ready");
  CHECK(hello["complete"] == true);
  CHECK(hello["replayed"] == 2);
  CHECK(on_c->next().value()["event_id"] == promoted.back()["event_id"]);
  CHECK(on_c->next().value()["event_id"] == link.back()["event_id"]);
}

TEST_CASE("with every NATS node down orders go on, and once NATS is back every event arrives") {
  test::NatsCluster nats(1);
  const std::string url = test::fresh_database();
  auto a = replica(url, nats, "node-a");
  auto b = replica(url, nats, "node-b");
  REQUIRE(test::eventually([&] { return ready(*a) && ready(*b) && stream_ok(*b); }, 30s));
  const std::string item = test::unique_name("outage");
  test::create_item(a->admin_port, {{"id", item}, {"name", "Outage"}, {"total_stock", 100}});
  auto on_b = admin_stream(*b);

  nats.kill(0);
  REQUIRE(test::eventually([&] { return !stream_ok(*a) && !stream_ok(*b); }, 10s));
  std::set<std::string> orders;
  for (int i = 0; i < 10; ++i) {
    const auto placed =
        test::place((i % 2 ? a : b)->public_port, "buyer-" + std::to_string(i), item, "k");
    REQUIRE(placed.status == 202);
    orders.insert(placed.json()["id"].get<std::string>());
  }
  CHECK(ready(*a));  // the API keeps taking orders
  CHECK(ready(*b));
  const auto meanwhile =
      on_b->until([](const json& f) { return is_type(f, "order.reserved"); }, 1s);
  CHECK(std::none_of(meanwhile.begin(), meanwhile.end(),
                     [](const json& f) { return is_type(f, "order.reserved"); }));

  nats.start(0);
  REQUIRE(nats.healthy());
  std::set<std::string> reserved;
  std::set<std::string> event_ids;
  on_b->until(
      [&](const json& f) {
        if (is_type(f, "order.reserved")) reserved.insert(f["order_id"].get<std::string>());
        CHECK(event_ids.insert(f["event_id"].get<std::string>()).second);  // each once
        return reserved == orders;
      },
      30s);
  CHECK(reserved == orders);
}

TEST_CASE(
    "a leader started with events waiting in the log appends them once the stream is set "
    "up, with no error on the way") {
  const std::string url = test::fresh_database();
  {  // one node without the stream first: the log's slot is made
    auto single = test::start_replica(url, "node-a");
    REQUIRE(test::eventually([&] { return ready(*single); }, 30s));
    single->signal(SIGTERM);
    REQUIRE(single->wait_exit() == 0);
  }
  // Written while no replica runs: the next leader reads it from the log at once, while it is
  // still setting up the stream (a new R3 stream takes a while).
  const std::string item = test::unique_name("waiting");
  pg::Connection db(url);
  db.exec("INSERT INTO items (id, name, total_stock, available) VALUES ($1, 'waiting', 5, 5)",
          {item});
  test::NatsCluster nats(3);
  auto a = replica(url, nats, "node-a");
  REQUIRE(test::eventually(
      [&] {
        return test::sample_value(test::scrape(a->admin_port),
                                  "flashsale_event_stream_appended_total")
                   .value_or(0) >= 1;
      },
      30s));
  const std::string log = a->log();
  INFO(log);
  CHECK(log.find("consumer 'event_stream' failed") == std::string::npos);
}

TEST_CASE("on a 3-node JetStream cluster, one NATS node down stops neither appends nor delivery") {
  test::NatsCluster nats(3);
  const std::string url = test::fresh_database();
  auto a = replica(url, nats, "node-a");
  auto b = replica(url, nats, "node-b");
  REQUIRE(test::eventually([&] { return ready(*a) && ready(*b) && stream_ok(*a) && stream_ok(*b); },
                           30s));
  const std::string item = test::unique_name("r3");
  test::create_item(a->admin_port, {{"id", item}, {"name", "R3"}, {"total_stock", 100}});
  auto on_b = admin_stream(*b);

  for (int node = 0; node < 3; ++node) {
    INFO("with NATS node " << node << " down");
    nats.kill(node);
    const auto placed = test::place(a->public_port, "buyer-" + std::to_string(node), item, "k");
    REQUIRE(placed.status == 202);
    const std::string order = placed.json()["id"];
    const auto frames = on_b->until(
        [&](const json& f) { return is_type(f, "order.reserved") && f["order_id"] == order; }, 20s);
    INFO("A: " << a->log() << "B: " << b->log());
    REQUIRE(!frames.empty());
    REQUIRE(frames.back()["order_id"] == order);
    nats.start(node);
    REQUIRE(nats.healthy());
  }
}

namespace {

// Every message of the stream: event_id → the event, and how many messages it had.
struct StreamContents {
  std::map<std::string, json> events;
  std::size_t messages = 0;
};

// The sequence of the stream's last message.
std::uint64_t last_sequence(const nats::Connection& conn) {
  jsStreamInfo* info = nullptr;
  nats::check(js_GetStreamInfo(&info, conn.js(), nats::contract::kDefaultStream, nullptr, nullptr),
              "stream info");
  const std::uint64_t last = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  return last;
}

// Every message of the stream, each event with its sequence as "seq".
StreamContents read_stream(const std::string& servers) {
  const nats::Connection conn(servers, "cluster-test", true);
  const std::uint64_t last = last_sequence(conn);
  StreamContents out;
  const auto sub =
      nats::ordered_consumer(conn, nats::contract::kDefaultStream,
                             std::string(nats::contract::kDefaultSubjectPrefix) + ".>", 1);
  for (std::uint64_t seq = 0; seq < last;) {
    natsMsg* raw = nullptr;
    nats::check(natsSubscription_NextMsg(&raw, sub.get(), 10000), "reading the stream");
    const nats::Msg msg = nats::own(raw);
    seq = nats::stream_sequence(raw);
    auto e = json::parse(
        std::string(natsMsg_GetData(raw), static_cast<std::size_t>(natsMsg_GetDataLength(raw))));
    ++out.messages;
    e["seq"] = seq;
    out.events.emplace(e["event_id"].get<std::string>(), std::move(e));
  }
  return out;
}

// A replica of the failover test, with the admin stream it has delivered since it was ready.
struct Watched {
  std::string node;
  std::unique_ptr<test::ServiceProcess> process;
  std::unique_ptr<test::WsClient> admin;
  std::uint64_t follows_after = 0;  // the stream's last sequence once it was ready
  bool alive = true;
};

}  // namespace

TEST_CASE("a transaction whose rest comes from the next leader, long after, is delivered whole") {
  // What a CDC leader killed between two publishes of one transaction leaves in the stream: the
  // first event, then (once a standby leads and appends the transaction again, its first event
  // dropped as a duplicate) the second. The follower used to hand the first part on after
  // 200 ms of quiet, and the bus then dropped the second as a re-sent tail: lost on every replica.
  test::NatsCluster nats(1);
  const std::string url = test::fresh_database();
  auto a = replica(url, nats, "node-a");
  REQUIRE(test::eventually([&] { return ready(*a) && stream_ok(*a); }, 30s));
  auto admin = admin_stream(*a);
  const nats::Connection conn(nats.servers(), "old-leader", true);
  const std::int64_t commit_us = sdk::now_unix_us();
  const auto publish = [&](int index, const std::string& order) {
    sdk::Event e;
    e.lsn = "FF/10";  // beyond anything this replica's database has committed
    e.event_id = e.lsn + "/" + std::to_string(index);
    e.type = "order.reserved";
    e.committed_at = sdk::rfc3339(commit_us);
    e.item_id = "parted";
    e.order_id = order;
    e.user_id = "u-" + order;
    nlohmann::json body = e.to_json();
    body["schema_version"] = nats::contract::kSchemaVersion;
    const std::string text = body.dump();
    natsMsg* raw = nullptr;
    nats::check(natsMsg_Create(&raw, "flashsale.events.parted.order.reserved", nullptr, text.data(),
                               static_cast<int>(text.size())),
                "message");
    const nats::Msg msg = nats::own(raw);
    nats::check(natsMsgHeader_Set(raw, nats::contract::kMsgIdHeader, e.event_id.c_str()), "id");
    nats::check(natsMsgHeader_Set(raw, nats::contract::kTxEventsHeader, "2"), "count");
    nats::check(
        natsMsgHeader_Set(raw, nats::contract::kCommitHeader, std::to_string(commit_us).c_str()),
        "commit");
    jsPubAck* ack = nullptr;
    nats::check(js_PublishMsg(&ack, conn.js(), raw, nullptr, nullptr), "publish");
    jsPubAck_Destroy(ack);
  };
  publish(0, "first-half");
  std::this_thread::sleep_for(12s);  // a slow failover: longer than the follower waits
  publish(1, "second-half");
  std::set<std::string> seen;
  admin->until(
      [&](const json& f) {
        if (f.value("item_id", "") == "parted") seen.insert(f["order_id"].get<std::string>());
        return seen.size() == 2;
      },
      20s);
  CHECK(seen == std::set<std::string>{"first-half", "second-half"});
}

TEST_CASE(
    "3 replicas on 3 NATS nodes: a burst while the CDC leader is killed 5 times loses "
    "nothing") {
  test::NatsCluster nats(3);
  const std::string url = test::fresh_database();
  std::vector<std::unique_ptr<Watched>> replicas;
  std::mutex mutex;  // replicas' alive flags and ports, read by the load threads
  const auto add_replica = [&](const std::string& node) {
    auto w = std::make_unique<Watched>();
    w->node = node;
    w->process = replica(url, nats, node);
    REQUIRE(test::eventually([&] { return ready(*w->process) && stream_ok(*w->process); }, 30s));
    w->admin = admin_stream(*w->process);
    w->follows_after = last_sequence(nats::Connection(nats.servers(), "cluster-test", true));
    std::lock_guard lock(mutex);
    replicas.push_back(std::move(w));
  };
  for (int i = 0; i < 3; ++i) add_replica("r" + std::to_string(i));
  const std::string item = test::unique_name("failover");
  test::create_item(replicas[0]->process->admin_port,
                    {{"id", item}, {"name", "Failover"}, {"total_stock", 1000000}});

  // Buyers watching their own stream, each on one replica; two of them order just before each
  // kill, so their events are in flight when the leader dies.
  struct Buyer {
    std::string user, order;
    Watched* on = nullptr;
    std::unique_ptr<test::WsClient> stream;
  };
  std::vector<Buyer> buyers(10);
  for (std::size_t i = 0; i < buyers.size(); ++i) {
    auto& b = buyers[i];
    b.user = "watcher-" + std::to_string(i);
    b.on = replicas[i % replicas.size()].get();
    b.stream = stream(*b.on->process, b.user);
    REQUIRE(b.stream->next().value()["type"] == "stream.ready");
  }

  // The burst: threads place orders, one new user each, through the replicas in turn.
  std::vector<std::string> placed;  // orders acknowledged with 202
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  load.reserve(8);
  for (int t = 0; t < 8; ++t) {
    load.emplace_back([&, t] {
      for (int n = 0; !stop; ++n) {
        std::uint16_t port = 0;
        {
          std::lock_guard lock(mutex);
          const auto& r = replicas[static_cast<std::size_t>(n + t) % replicas.size()];
          if (!r->alive) continue;
          port = r->process->public_port;
        }
        try {
          const auto answer =
              test::place(port, "u" + std::to_string(t) + "-" + std::to_string(n), item, "k");
          if (answer.status != 202) continue;
          std::lock_guard lock(mutex);
          placed.push_back(answer.json()["id"]);
        } catch (const std::exception&) {  // a replica being killed: not acknowledged
        }
      }
    });
  }

  std::vector<std::string> killed;
  for (std::size_t k = 0; k < 5; ++k) {
    std::this_thread::sleep_for(1500ms);
    for (auto* b : {&buyers[2 * k], &buyers[2 * k + 1]}) {
      const auto via =
          std::find_if(replicas.begin(), replicas.end(), [](const auto& r) { return r->alive; });
      const auto placed = test::place((*via)->process->public_port, b->user, item, "k");
      REQUIRE(placed.status == 202);
      b->order = placed.json()["id"];
    }
    Watched* leader = nullptr;
    std::string leader_id;
    for (auto& r : replicas) {
      if (!r->alive) continue;
      const auto view = test::http_request(r->process->admin_port, "GET", "/admin/cluster").json();
      if (view["leader"].is_string()) leader_id = view["leader"];
      break;
    }
    for (auto& r : replicas) {
      if (r->alive && r->node == leader_id) leader = r.get();
    }
    REQUIRE(leader != nullptr);
    {
      std::lock_guard lock(mutex);
      leader->alive = false;
    }
    leader->process->signal(SIGKILL);
    REQUIRE(leader->process->wait_exit(10s).has_value());
    killed.push_back(leader_id);
    const auto died = std::chrono::steady_clock::now();
    // A standby leads within 5 s.
    std::string next;
    CHECK(test::eventually(
        [&] {
          for (auto& r : replicas) {
            if (!r->alive) continue;
            const auto view =
                test::http_request(r->process->admin_port, "GET", "/admin/cluster").json();
            if (view["leader"].is_string() && view["leader"] != leader_id) {
              next = view["leader"];
              return true;
            }
          }
          return false;
        },
        5s));
    INFO("kill " << k << ": " << leader_id << " → " << next << " in "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - died)
                        .count()
                 << " ms");
    add_replica("r" + std::to_string(3 + k));
  }
  std::this_thread::sleep_for(1s);
  stop = true;
  for (auto& t : load) t.join();
  INFO(placed.size() << " orders acknowledged; leaders killed: " << killed.size());
  REQUIRE(placed.size() > 100);

  // The tables hold every acknowledged order, and the invariants.
  CHECK(test::invariant_violations(url).empty());
  pg::Connection db(url);
  std::set<std::string> committed;
  const auto rows = db.exec("SELECT id FROM orders WHERE item_id = $1", {item});
  for (int r = 0; r < rows.rows(); ++r) committed.emplace(rows.get(r, 0));
  for (const auto& order : placed) CHECK(committed.count(order) == 1);

  // The stream ends up with each committed order's first event exactly once after
  // de-duplication by event_id (one event per order and type, whatever the replays).
  StreamContents stream_contents;
  std::map<std::string, std::set<std::string>> reserved_events;  // order → its event ids
  REQUIRE(test::eventually(
      [&] {
        stream_contents = read_stream(nats.servers());
        reserved_events.clear();
        for (const auto& [id, e] : stream_contents.events) {
          if (e["item_id"] == item && e["type"] == "order.reserved") {
            reserved_events[e["order_id"].get<std::string>()].insert(id);
          }
        }
        return reserved_events.size() >= committed.size();
      },
      60s));
  for (const auto& order : committed) {
    INFO("order " << order);
    CHECK(reserved_events[order].size() == 1);
  }
  CHECK(stream_contents.messages == stream_contents.events.size());  // no copy in the stream

  // Every replica alive now delivered every order event stored after it began to follow.
  for (auto& r : replicas) {
    if (!r->alive) continue;
    // What it must have delivered: every order event stored after it followed the stream.
    std::set<std::string> expected;
    for (const auto& [id, e] : stream_contents.events) {
      if (e["seq"].get<std::uint64_t>() > r->follows_after && e["item_id"] == item &&
          e["type"] == "order.reserved") {
        expected.insert(e["order_id"].get<std::string>());
      }
    }
    std::set<std::string> seen;
    r->admin->until(
        [&](const json& f) {
          if (is_type(f, "order.reserved") && f["item_id"] == item) {
            seen.insert(f["order_id"].get<std::string>());
          }
          return std::includes(seen.begin(), seen.end(), expected.begin(), expected.end());
        },
        30s);
    INFO("replica " << r->node << " expected " << expected.size() << ", saw " << seen.size());
    CHECK(std::includes(seen.begin(), seen.end(), expected.begin(), expected.end()));
  }

  // Each buyer heard of its reservation: live, from a replica that survived; or, cut off by its
  // replica's death, by reconnecting to another with since= (a replay from the stream).
  for (auto& b : buyers) {
    INFO("buyer " << b.user << " on " << b.on->node);
    const auto is_mine = [&](const json& f) {
      return is_type(f, "order.reserved") && f["order_id"] == b.order;
    };
    std::string last_seen = "0/0/0";
    const auto live = b.stream->until(
        [&](const json& f) {
          if (f.contains("event_id")) last_seen = f["event_id"];
          return is_mine(f);
        },
        b.on->alive ? 15s : 2s);
    if (!live.empty() && is_mine(live.back())) continue;
    CHECK_FALSE(b.on->alive);  // a surviving replica delivers live
    const auto other =
        std::find_if(replicas.begin(), replicas.end(), [](const auto& r) { return r->alive; });
    REQUIRE(other != replicas.end());
    auto again = stream(*(*other)->process, b.user, "?since=" + last_seen);
    const auto hello = again->next().value();
    // From a frame it saw, the stream vouches for everything after it; from nothing ("0/0/0")
    // it cannot (what came before its first message is unknown), but replays what it holds.
    if (last_seen != "0/0/0") CHECK(hello["complete"] == true);
    const auto replayed = again->until(is_mine, 15s);
    REQUIRE(!replayed.empty());
    CHECK(is_mine(replayed.back()));
  }
}

TEST_CASE("a 500-connection burst spread over 3 replicas grants each unit once") {
  test::NatsCluster nats(3);
  const std::string url = test::fresh_database();
  std::vector<std::unique_ptr<test::ServiceProcess>> replicas;
  replicas.reserve(3);
  for (int i = 0; i < 3; ++i) replicas.push_back(replica(url, nats, "b" + std::to_string(i)));
  REQUIRE(test::eventually(
      [&] {
        return std::all_of(replicas.begin(), replicas.end(),
                           [](const auto& r) { return ready(*r); });
      },
      30s));
  const std::string item = test::unique_name("burst");
  test::create_item(replicas[0]->admin_port,
                    {{"id", item}, {"name", "Burst"}, {"total_stock", 100}});

  std::mutex mutex;
  std::map<std::string, int> outcomes;  // status → count
  std::set<std::string> orders;
  test::parallel_for(500, 500, [&](int i) {
    const auto& via = *replicas[static_cast<std::size_t>(i % 3)];
    const auto answer = test::place(via.public_port, "burst-" + std::to_string(i), item, "k");
    std::lock_guard lock(mutex);
    if (answer.status != 202) {
      ++outcomes[std::to_string(answer.status)];
      return;
    }
    const json order = answer.json();
    ++outcomes[order["status"].get<std::string>()];
    CHECK(orders.insert(order["id"].get<std::string>()).second);
  });
  INFO("outcomes: " << json(outcomes).dump());
  CHECK(outcomes["reserved"] == 100);  // exactly the stock, whichever replica took the order
  CHECK(outcomes["waiting"] == 400);
  CHECK(test::invariant_violations(url).empty());
  const auto view = test::http_request(replicas[2]->admin_port, "GET", "/admin/items/" + item);
  CHECK(view.json()["reserved"] == 100);
  CHECK(view.json()["available"] == 0);
}
