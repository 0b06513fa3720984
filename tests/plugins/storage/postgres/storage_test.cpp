// The storage plugin called directly, as the host's job handlers and push routing call it: the
// answers of set_payment_links (which tell "not visible yet" from "too late"), links written in
// place (HOT updates) and found by key however small `orders` was when linking began, and the
// device registry.
#include <catch2/catch.hpp>
#include <flashsale/pg/connection.hpp>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "event_bus.hpp"
#include "metrics.hpp"
#include "plugin_host.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;
using nlohmann::json;

namespace {

class Instance {
 public:
  Instance() : url_(test::fresh_database()) {
    test::migrate_plugins(url_, {"flashsale_storage_postgres"});
    config_ = load_config(std::nullopt, {});
    config_.plugins_dir = FLASHSALE_PLUGIN_DIR;
    host_ = std::make_unique<PluginHost>(config_, url_, metrics_, bus_);
    storage_ =
        dynamic_cast<sdk::Storage*>(host_->load({"flashsale_storage_postgres", true}).object.get());
    REQUIRE(storage_ != nullptr);
    host_->start_all();
  }
  sdk::Storage* operator->() const { return storage_; }
  [[nodiscard]] const std::string& url() const { return url_; }

  void create_item(const std::string& id, int total_stock) {
    sdk::NewItem item;
    item.id = id;
    item.name = id;
    item.total_stock = total_stock;
    REQUIRE(storage_->create_item(item).ok());
  }

  json place(const std::string& user, const std::string& item) {
    std::promise<sdk::StorageResult> done;
    storage_->place({user, item, "k-" + user},
                    [&done](sdk::StorageResult r) { done.set_value(std::move(r)); });
    const auto r = done.get_future().get();
    REQUIRE(r.ok());
    return json::parse(r.body);
  }

 private:
  std::string url_;
  Config config_;
  Metrics metrics_;
  EventBus bus_{16};
  std::unique_ptr<PluginHost> host_;
  sdk::Storage* storage_ = nullptr;
};

}  // namespace

TEST_CASE("set_payment_links: stored once; not visible yet and too late answer differently") {
  Instance storage;
  storage.create_item("links", 2);
  const json reserved = storage.place("ann", "links");
  const json other = storage.place("cat", "links");
  const json waiting = storage.place("ben", "links");
  REQUIRE(reserved["status"] == "reserved");
  REQUIRE(other["status"] == "reserved");
  REQUIRE(waiting["status"] == "waiting");
  const auto link_of = [&](const std::string& user, const json& order) {
    const auto r = storage->get_order({.user_id = user, .order_id = order["id"]});
    REQUIRE(r.ok());
    return json::parse(r.body).value("payment_link", "");
  };

  // One call, each link its own answer, in order. No such order, one still waiting, or an id
  // that is no UUID: what a job sees when the reservation's commit is not visible to it yet.
  // It retries. The others in the call are stored all the same.
  const auto first = storage->set_payment_links({{reserved["id"], "https://pay/1"},
                                                 {"6f1c2b3a-0000-4000-8000-000000000000", "x"},
                                                 {waiting["id"], "https://pay/x"},
                                                 {"not-a-uuid", "x"},
                                                 {other["id"], "https://pay/2"}});
  REQUIRE(first.size() == 5);
  CHECK(first[0].ok());
  CHECK(first[1].error == sdk::StorageError::not_found);
  CHECK(first[2].error == sdk::StorageError::not_found);
  CHECK(first[3].error == sdk::StorageError::not_found);
  CHECK(first[4].ok());
  CHECK(link_of("ann", reserved) == "https://pay/1");
  CHECK(link_of("cat", other) == "https://pay/2");
  CHECK(link_of("ben", waiting).empty());

  // Once only.
  const auto again = storage->set_payment_links({{reserved["id"], "https://pay/3"}});
  REQUIRE(again.size() == 1);
  CHECK(again[0].error == sdk::StorageError::invalid_transition);
  CHECK(link_of("ann", reserved) == "https://pay/1");

  // Past reserved: too late, for good.
  REQUIRE(
      storage->end_order({.user_id = "ben", .order_id = waiting["id"]}, sdk::EndKind::cancel).ok());
  const auto late = storage->set_payment_links({{waiting["id"], "https://pay/x"}});
  REQUIRE(late.size() == 1);
  CHECK(late[0].error == sdk::StorageError::invalid_transition);
  CHECK_THAT(late[0].message, Catch::Contains("cancelled"));
  CHECK(storage->set_payment_links({}).empty());
}

TEST_CASE("payment links are stored in place: the orders' pages have room for them") {
  // As in a sale: orders are placed, and their links follow a moment later, a worker's batch of
  // 32 consecutive orders per call. A link changes no indexed column, so with room on the page
  // it is a HOT update: the order stays on its page and no index gets an entry.
  Instance storage;
  storage.create_item("in-place", 1000);
  constexpr int kOrders = 640;
  constexpr int kBatch = 32;
  std::vector<std::string> ids;
  std::map<std::string, std::string> page;  // order id -> its page before the link
  pg::Connection conn(storage.url());
  const auto pages = [&] {
    std::map<std::string, std::string> out;
    const auto r = conn.exec("SELECT id::text, (ctid::text::point)[0]::text FROM orders");
    for (int i = 0; i < r.rows(); ++i) out[std::string(r.get(i, 0))] = r.get(i, 1);
    return out;
  };
  const auto link = [&](std::size_t from) {
    std::vector<sdk::PaymentLink> links;
    for (std::size_t i = from; i < from + kBatch; ++i) {
      links.push_back({ids[i], "https://payments.invalid/checkout/" + ids[i]});
    }
    for (const auto& r : storage->set_payment_links(links)) REQUIRE(r.ok());
  };
  for (int i = 0; i < kOrders; ++i) {
    ids.push_back(storage.place("u" + std::to_string(i), "in-place")["id"]);
    if ((i + 1) % kBatch == 0) {
      for (const auto& [id, at] : pages()) page.emplace(id, at);
      // The links run two batches behind the placements.
      if (i + 1 >= 3 * kBatch) link(static_cast<std::size_t>(i + 1 - 3 * kBatch));
    }
  }
  for (std::size_t from = kOrders - 2 * kBatch; from < kOrders; from += kBatch) link(from);
  int moved = 0;
  for (const auto& [id, at] : pages()) moved += page.at(id) != at;
  INFO(moved << " of " << kOrders << " orders moved to another page for their link");
  CHECK(moved * 20 <= kOrders);  // at most 5 %
}

TEST_CASE("payment links find their orders by key, however small orders was when linking began") {
  // A sale on a new database: the first links are stored while `orders` holds a few dozen rows,
  // when scanning it is the cheapest plan. That must not stay the plan once it holds thousands.
  const auto url = [] {
    Instance storage;
    pg::Connection conn(storage.url());
    // No analyze during the test: it would make every connection plan afresh.
    conn.exec("ALTER TABLE orders SET (autovacuum_enabled = false)");
    storage.create_item("small-first", 1000);
    const auto new_orders = [&](int count, const std::string& users) {  // their links to store
      std::vector<sdk::PaymentLink> links;
      for (int i = 0; i < count; ++i) {
        const std::string id = storage.place(users + std::to_string(i), "small-first")["id"];
        links.push_back({id, "https://payments.invalid/checkout/" + id});
      }
      return links;
    };
    // 20 links while the table is small, their batch sent 80 times (after the first, each
    // answer is "already has a link"), so every pooled connection runs the statement many times.
    const auto first = new_orders(20, "early-");
    for (const auto& r : storage->set_payment_links(first)) REQUIRE(r.ok());
    for (int i = 1; i < 80; ++i) storage->set_payment_links(first);
    // The table grows: 20,000 orders of another item.
    storage.create_item("bulk", 1);
    conn.exec(
        "INSERT INTO orders (user_id, item_id, status, waitlist_seq) "
        "SELECT 'bulk-' || g, 'bulk', 'cancelled', g FROM generate_series(1, 20000) g");
    // The sale goes on: 5 batches of 20 links.
    for (int b = 0; b < 5; ++b) {
      for (const auto& r :
           storage->set_payment_links(new_orders(20, "late-" + std::to_string(b) + "-"))) {
        REQUIRE(r.ok());
      }
    }
    return storage.url();
  }();
  // The plugin's connections are closed. A session reports its statistics as it ends, just
  // after it leaves pg_stat_activity.
  pg::Connection conn(url);
  REQUIRE(test::eventually([&] {
    return conn.exec(
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                   " AND pid <> pg_backend_pid()")
               .get_int(0, 0) == 0;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto read =
      conn.exec("SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'orders'")
          .get_int(0, 0);
  INFO(read << " rows of orders read by sequential scans");
  CHECK(read < 20000);  // not one scan of the grown table (each of the 5 batches scanned it)
}

TEST_CASE("the device registry: register, move, drop, look up, forget") {
  Instance storage;
  const auto registered = storage->register_device("ann", "tok-1");
  REQUIRE(registered.ok());
  CHECK(json::parse(registered.body)["token"] == "tok-1");
  REQUIRE(storage->register_device("ann", "tok-2").ok());
  REQUIRE(storage->register_device("ben", "tok-3").ok());
  CHECK(storage->device_tokens({"ann", "ben", "cid"}) ==
        std::map<std::string, std::vector<std::string>>{{"ann", {"tok-1", "tok-2"}},
                                                        {"ben", {"tok-3"}}});
  CHECK(storage->device_tokens({}).empty());

  // A token registered again by another user moves to them.
  REQUIRE(storage->register_device("ben", "tok-2").ok());
  CHECK(storage->device_tokens({"ann"})["ann"] == std::vector<std::string>{"tok-1"});

  // Only one's own token can be dropped.
  CHECK(storage->drop_device("ann", "tok-3").error == sdk::StorageError::not_found);
  CHECK(storage->drop_device("ben", "tok-3").ok());
  CHECK(storage->drop_device("ben", "tok-3").error == sdk::StorageError::not_found);

  // Tokens a provider reported gone leave, whoever had them; odd characters are data.
  REQUIRE(storage->register_device("cid", "we\"ird,{tok}").ok());
  storage->forget_devices({"tok-1", "we\"ird,{tok}", "never-registered"});
  CHECK(storage->device_tokens({"ann", "ben", "cid"}) ==
        std::map<std::string, std::vector<std::string>>{{"ben", {"tok-2"}}});
}
