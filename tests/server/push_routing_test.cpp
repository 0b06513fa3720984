// The host's side of push: which events become which notifications, and the delivery lane that
// keeps a slow, hanging or throwing channel from holding up its caller for more than a timeout.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "push/channel_feed.hpp"
#include "push/notifications.hpp"

using namespace flashsale;
using namespace std::chrono_literals;

namespace {

sdk::Event event(const std::string& type, nlohmann::json data) {
  sdk::Event e;
  e.event_id = "0/16B3748/2";
  e.type = type;
  e.lsn = "0/16B3748";
  e.committed_at = "2026-11-24T10:00:00.000Z";
  e.item_id = "sneakers";
  e.order_id = "0b7a3c1e-0000-4000-8000-000000000001";
  e.user_id = "alice";
  e.data = std::move(data);
  return e;
}

// A channel whose deliver() does what the test says: answer, wait for a gate, or throw.
class ScriptedChannel final : public sdk::PushChannel {
 public:
  sdk::Delivery deliver(const sdk::Notification& n) override {
    if (n.event_type == "throw") throw std::runtime_error("kaput");
    if (n.event_type == "slow") std::this_thread::sleep_for(100ms);
    if (n.event_type == "hang") {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return open_; });
    }
    ++calls;
    return sdk::Delivery::later(7s, "busy: " + n.event_id);
  }
  void open_gate() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  std::atomic<int> calls{0};

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

sdk::Notification note(const std::string& type, const std::string& id = "1") {
  sdk::Notification n;
  n.event_type = type;
  n.event_id = id;
  return n;
}

push::Lane::Batch batch(std::vector<sdk::Notification> notifications) {
  return std::make_shared<const std::vector<sdk::Notification>>(std::move(notifications));
}

// A batch of one, and its one result.
push::Lane::Result run_one(push::Lane& lane, const sdk::Notification& n,
                           std::chrono::milliseconds timeout) {
  return lane.run(batch({n}), timeout).front();
}

}  // namespace

TEST_CASE("user-facing events become notifications with text and string data") {
  const auto reserved = push::notification_for(
      event("order.reserved",
            {{"promoted", true},
             {"reservation", {{"id", "r-1"}, {"expires_at", "2026-11-24T10:10:00.000Z"}}}}));
  REQUIRE(reserved);
  CHECK(reserved->event_id == "0/16B3748/2");
  CHECK(reserved->event_type == "order.reserved");
  CHECK(reserved->user_id == "alice");
  CHECK(reserved->item_id == "sneakers");
  CHECK(reserved->title == "You're in: a unit came back for you");
  CHECK_THAT(reserved->body, Catch::Contains("until 2026-11-24T10:10:00.000Z"));
  CHECK(reserved->data ==
        std::map<std::string, std::string>{{"promoted", "true"},
                                           {"reservation_id", "r-1"},
                                           {"reservation_expires_at", "2026-11-24T10:10:00.000Z"}});
  const auto envelope = nlohmann::json::parse(reserved->event_json);
  CHECK(envelope["type"] == "order.reserved");
  CHECK(envelope["data"]["promoted"] == true);

  const auto fresh = push::notification_for(event("order.reserved", {{"promoted", false}}));
  REQUIRE(fresh);
  CHECK(fresh->title == "Reserved: one is yours");

  const auto link =
      push::notification_for(event("payment_link.ready", {{"payment_link", "https://pay/x"}}));
  REQUIRE(link);
  CHECK_THAT(link->body, Catch::Contains("https://pay/x"));
  CHECK(push::notification_for(event("order.expired", {{"reason", "sale_closed"}}))->title ==
        "The sale has ended");
  CHECK(push::notification_for(event("order.expired", {}))->title == "Your reservation expired");
  CHECK(push::notification_for(event("order.confirmed", {}))->title == "Order confirmed");
  CHECK(push::notification_for(event("order.cancelled", {}))->title == "Order cancelled");

  // Not for users: item events, the waiting line, anything without a user.
  CHECK_FALSE(push::notification_for(event("order.waiting", {{"waitlist_seq", 3}})));
  CHECK_FALSE(push::notification_for(event("inventory.changed", {})));
  auto anonymous = event("order.reserved", {});
  anonymous.user_id.clear();
  CHECK_FALSE(push::notification_for(anonymous));
  for (const auto& type : push::notified_event_types()) {
    CHECK(push::notification_for(event(type, {})));
  }
}

TEST_CASE("a notification survives the trip through a retry job's payload") {
  auto n = *push::notification_for(event("payment_link.ready", {{"payment_link", "https://p"}}));
  n.device_tokens = {"t1", "t2"};
  const auto back = push::notification_from_json(push::to_json(n));
  CHECK(back.event_id == n.event_id);
  CHECK(back.event_type == n.event_type);
  CHECK(back.user_id == n.user_id);
  CHECK(back.order_id == n.order_id);
  CHECK(back.item_id == n.item_id);
  CHECK(back.title == n.title);
  CHECK(back.body == n.body);
  CHECK(back.data == n.data);
  CHECK(back.event_json == n.event_json);
  CHECK(back.device_tokens == n.device_tokens);
  CHECK_THROWS(push::notification_from_json({{"event_id", 5}}));
}

TEST_CASE("the delivery lane answers, times out, skips a stuck channel, and survives throws") {
  ScriptedChannel channel;
  push::Lane lane("scripted", channel);

  const auto answered = run_one(lane, note("order.reserved", "a"), 2s);
  REQUIRE(answered.answer);
  CHECK(answered.answer->outcome == sdk::Delivery::Outcome::retry);
  CHECK(answered.answer->retry_after == 7s);
  CHECK(answered.answer->detail == "busy: a");

  const auto thrown = run_one(lane, note("throw"), 2s);
  REQUIRE(thrown.answer);
  CHECK(thrown.answer->outcome == sdk::Delivery::Outcome::failed);
  CHECK_THAT(thrown.answer->detail, Catch::Contains("kaput"));

  const auto started = std::chrono::steady_clock::now();
  const auto hung = run_one(lane, note("hang"), 200ms);
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK_FALSE(hung.answer);
  CHECK_FALSE(hung.was_stuck);
  CHECK(waited >= 200ms);
  CHECK(waited < 2s);

  // While the call hangs, the lane does not wait again: it says so at once.
  const auto skipped_at = std::chrono::steady_clock::now();
  const auto skipped = run_one(lane, note("order.reserved", "b"), 2s);
  CHECK_FALSE(skipped.answer);
  CHECK(skipped.was_stuck);
  CHECK(std::chrono::steady_clock::now() - skipped_at < 1s);

  // Once it returns, its late answer is nobody's and the lane works again.
  channel.open_gate();
  bool recovered = false;
  for (int i = 0; i < 200 && !recovered; ++i) {
    const auto r = run_one(lane, note("order.reserved", "c"), 2s);
    recovered = r.answer.has_value();
    if (recovered) {
      CHECK(r.answer->detail == "busy: c");
    } else {
      std::this_thread::sleep_for(10ms);
    }
  }
  CHECK(recovered);
}

TEST_CASE("event ids name positions in commit order; anything else is refused") {
  const auto a = sdk::parse_event_id("0/16B3748/2");
  REQUIRE(a);
  CHECK(a->lsn == 0x16B3748);
  CHECK(a->index == 2);
  CHECK(*a < *sdk::parse_event_id("0/16B3748/10"));
  CHECK(*a < *sdk::parse_event_id("1/0/0"));
  CHECK(sdk::parse_event_id("FFFFFFFF/FFFFFFFF/4294967295")->index == 4294967295u);
  for (const char* bad :
       {"", "0/16B3748", "0/16B3748/", "0/16B3748/x", "0/16B3748/-1", "0/16B3748/4294967296",
        "0/1/2/3", "g/0/0", "0/123456789/0", "yesterday"}) {
    INFO(bad);
    CHECK_FALSE(sdk::parse_event_id(bad));
  }
}

TEST_CASE("the delivery lane takes a batch: each call in order with its own timeout") {
  ScriptedChannel channel;
  push::Lane lane("scripted", channel);

  // Twelve calls of 100 ms with a 1 s timeout: 1.2 s in all, yet none of them is late.
  std::vector<sdk::Notification> slow_ones;
  for (int i = 1; i <= 12; ++i) slow_ones.push_back(note("slow", "s" + std::to_string(i)));
  const auto slow = lane.run(batch(slow_ones), 1s);
  REQUIRE(slow.size() == 12);
  for (std::size_t i = 0; i < slow.size(); ++i) {
    INFO(i);
    REQUIRE(slow[i].answer);
    CHECK(slow[i].answer->detail == "busy: s" + std::to_string(i + 1));
  }
  CHECK(channel.calls == 12);

  // A call that hangs in the middle: those before it answered, it timed out, and those after it
  // were never started.
  const auto started = std::chrono::steady_clock::now();
  const auto hung = lane.run(batch({note("order.reserved", "a"), note("hang", "h"),
                                    note("order.reserved", "b"), note("order.reserved", "c")}),
                             300ms);
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(waited >= 300ms);
  CHECK(waited < 2s);
  REQUIRE(hung.size() == 4);
  REQUIRE(hung[0].answer);
  CHECK(hung[0].answer->detail == "busy: a");
  CHECK_FALSE(hung[1].answer);
  CHECK_FALSE(hung[1].was_stuck);
  for (std::size_t i : {2U, 3U}) {
    INFO(i);
    CHECK_FALSE(hung[i].answer);
    CHECK(hung[i].was_stuck);
  }
  CHECK(channel.calls == 13);

  // Once the hanging call returns, the rest of its batch stays unsent: the caller gave up on it.
  channel.open_gate();
  bool recovered = false;
  for (int i = 0; i < 200 && !recovered; ++i) {
    recovered = run_one(lane, note("order.reserved", "d"), 2s).answer.has_value();
    if (!recovered) std::this_thread::sleep_for(10ms);
  }
  CHECK(recovered);
  CHECK(channel.calls == 15);  // the hanging call, then d; never b or c
  CHECK(lane.run(batch({}), 1s).empty());
}
