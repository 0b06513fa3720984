// See channel_feed.hpp.
#include "push/channel_feed.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <flashsale/sdk/threads.hpp>
#include <set>

#include "event_bus.hpp"
#include "jobs/kinds.hpp"
#include "log.hpp"
#include "push/notifications.hpp"

namespace flashsale::push {
namespace {

// A retry the channel did not time itself.
constexpr std::chrono::milliseconds kDefaultRetry{5000};

std::int64_t now_unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Lane::Lane(const std::string& name, sdk::PushChannel& channel)
    : channel_(channel), thread_([this, name] {
        sdk::name_this_thread("push:" + name);
        loop();
      }) {}

Lane::~Lane() {
  bool hanging = false;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    hanging = busy_;
  }
  cv_.notify_all();
  // A call that never returns would block the exit here; let its thread go instead.
  if (hanging) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

std::vector<Lane::Result> Lane::run(const Batch& batch, std::chrono::milliseconds timeout) {
  const std::size_t size = batch->size();
  std::vector<Result> results(size);
  const auto none_tried = [&] {
    for (auto& r : results) r.was_stuck = true;
    return results;
  };
  if (size == 0) return results;
  if (stuck_) return none_tried();  // no waiting behind a call that hangs
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock turn(turn_, deadline);
  if (!turn.owns_lock()) return none_tried();
  std::unique_lock lock(mutex_);
  if (busy_) return none_tried();  // an abandoned call still hangs
  work_ = batch;
  answers_.clear();
  ++ticket_;
  cv_.notify_all();
  // The thread signals once, when the batch is done; a wait that runs out while it still makes
  // progress gives the call under way its own timeout, counted from the answer before it.
  std::size_t seen = 0;
  while (!cv_.wait_until(lock, deadline, [&] { return answers_.size() == size; }) &&
         answers_.size() > seen) {
    seen = answers_.size();
    deadline = last_answer_at_ + timeout;
  }
  for (std::size_t i = 0; i < answers_.size(); ++i) results[i].answer = std::move(answers_[i]);
  if (answers_.size() < size) {
    work_.reset();  // not taken yet: never start it
    ++ticket_;      // taken: the call under way answers nobody, and the rest never start
    stuck_ = busy_;
    for (std::size_t i = answers_.size() + 1; i < size; ++i) results[i].was_stuck = true;
  }
  return results;
}

void Lane::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || work_ != nullptr; });
    if (stopping_) return;
    const Batch batch = std::exchange(work_, nullptr);
    const std::uint64_t ticket = ticket_;
    for (const auto& n : *batch) {
      if (stopping_ || ticket != ticket_) break;  // its caller gave up waiting
      busy_ = true;
      lock.unlock();
      sdk::Delivery answer;
      try {
        answer = channel_.deliver(n);
      } catch (const std::exception& e) {
        answer = sdk::Delivery::failure(std::string("the channel threw: ") + e.what());
      } catch (...) {
        answer = sdk::Delivery::failure("the channel threw");
      }
      lock.lock();
      busy_ = false;
      stuck_ = false;
      if (ticket == ticket_) {
        answers_.push_back(std::move(answer));
        last_answer_at_ = std::chrono::steady_clock::now();
      }
    }
    cv_.notify_all();
  }
}

ChannelFeed::ChannelFeed(std::string channel_name, sdk::PushChannel& channel, sdk::Storage& storage,
                         sdk::Scheduler* scheduler, std::chrono::milliseconds timeout,
                         prometheus::Registry& registry)
    : channel_name_(std::move(channel_name)),
      channel_(channel),
      storage_(storage),
      scheduler_(scheduler),
      timeout_(timeout),
      latency_(prometheus::BuildHistogram()
                   .Name("flashsale_push_latency_seconds")
                   .Help("From an event's commit to its notification being handed to the channel")
                   .Register(registry)
                   .Add({{"channel", channel_name_}},
                        prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                0.5, 1, 2.5, 5, 10})),
      lane_(channel_name_, channel) {
  auto& family = prometheus::BuildCounter()
                     .Name("flashsale_push_total")
                     .Help(
                         "Notifications handed to push channels, by channel and outcome "
                         "(delivered, retry, failed, timeout, dropped)")
                     .Register(registry);
  for (const char* outcome : {"delivered", "retry", "failed", "timeout", "dropped"}) {
    outcomes_[outcome] = &family.Add({{"channel", channel_name_}, {"outcome", outcome}});
  }
}

void ChannelFeed::handle(const sdk::EventBatch& batch) {
  auto notifications = std::make_shared<std::vector<sdk::Notification>>();
  for (const auto& event : batch.events) {
    if (auto n = notification_for(event)) notifications->push_back(std::move(*n));
  }
  if (notifications->empty()) return;
  if (channel_.wants_device_tokens()) {
    std::set<std::string> users;
    for (const auto& n : *notifications) users.insert(n.user_id);
    // A database error throws: the bus hands the batch over again after a pause.
    auto tokens = storage_.device_tokens({users.begin(), users.end()});
    for (auto& n : *notifications) {
      if (auto it = tokens.find(n.user_id); it != tokens.end()) n.device_tokens = it->second;
    }
  }
  const double since_commit = static_cast<double>(now_unix_us() - batch.commit_unix_us) / 1e6;
  for (std::size_t i = 0; i < notifications->size(); ++i) latency_.Observe(since_commit);
  auto results = lane_.run(notifications, timeout_);
  std::vector<sdk::NewJob> retries;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& n = (*notifications)[i];
    sdk::Delivery answer;
    const std::string outcome = settle(n, std::move(results[i]), 1, answer);
    if (outcome == "retry" || outcome == "timeout") {
      if (scheduler_) {
        retries.push_back(retry_job(n, answer));
      } else {
        outcomes_.at("dropped")->Increment();
      }
    }
  }
  // Durable before the batch counts as handled; a failure throws and the batch comes again
  // (the jobs' unique keys keep a second enqueue from doubling them).
  if (!retries.empty()) scheduler_->enqueue(retries);
}

std::string ChannelFeed::settle(const sdk::Notification& n, Lane::Result result, int attempt,
                                sdk::Delivery& answer) {
  std::string outcome;
  if (!result.answer) {
    outcome = "timeout";
    answer = sdk::Delivery::later(
        kDefaultRetry, result.was_stuck
                           ? "the channel still hangs in an earlier call"
                           : "no answer within " + std::to_string(timeout_.count()) + " ms");
    // Once per hang, not once per notification that meets it.
    if (!result.was_stuck) {
      log::warn("push " + channel_name_ + ": " + n.event_type + " " + n.event_id + " for user " +
                n.user_id + ": " + answer.detail + " (attempt " + std::to_string(attempt) +
                "); later ones go to the retry queue until it returns");
    }
  } else {
    answer = std::move(*result.answer);
    switch (answer.outcome) {
      case sdk::Delivery::Outcome::delivered:
        outcome = "delivered";
        break;
      case sdk::Delivery::Outcome::retry:
        outcome = "retry";
        break;
      case sdk::Delivery::Outcome::failed:
        outcome = "failed";
        log::warn("push " + channel_name_ + ": " + n.event_type + " " + n.event_id + " for user " +
                  n.user_id + " failed: " + answer.detail);
        break;
    }
  }
  outcomes_.at(outcome)->Increment();
  if (!answer.unregistered_tokens.empty()) storage_.forget_devices(answer.unregistered_tokens);
  return outcome;
}

sdk::NewJob ChannelFeed::retry_job(const sdk::Notification& n, const sdk::Delivery& answer) const {
  sdk::Notification again = n;
  if (!answer.retry_tokens.empty()) again.device_tokens = answer.retry_tokens;
  const auto delay = answer.retry_after.count() > 0 ? answer.retry_after : kDefaultRetry;
  return {jobs::kind::kPush,
          {{"channel", channel_name_}, {"notification", to_json(again)}},
          sdk::JobClock::now() + delay,
          "push:" + channel_name_ + ":" + n.event_id};
}

sdk::JobOutcome ChannelFeed::retry(const sdk::Job& job) {
  auto one = std::make_shared<std::vector<sdk::Notification>>();
  try {
    one->push_back(notification_from_json(job.payload.at("notification")));
  } catch (const nlohmann::json::exception& e) {
    return {sdk::JobOutcome::Kind::failed, {}, std::string("bad push payload: ") + e.what()};
  }
  sdk::Delivery answer;
  const std::string outcome =
      settle(one->front(), std::move(lane_.run(one, timeout_).front()), job.attempt + 1, answer);
  if (outcome == "delivered") return {};
  if (outcome == "failed") return {sdk::JobOutcome::Kind::failed, {}, answer.detail};
  // Later attempts resend to the same tokens; the scheduler's backoff and dead letters apply.
  return {sdk::JobOutcome::Kind::retry, answer.retry_after, answer.detail};
}

void route_push(const Buses& buses,
                const std::vector<std::pair<std::string, sdk::PushChannel*>>& channels,
                sdk::Storage& storage, sdk::Scheduler* scheduler, std::chrono::milliseconds timeout,
                prometheus::Registry& registry) {
  auto feeds = std::make_shared<std::map<std::string, std::shared_ptr<ChannelFeed>>>();
  for (const auto& [name, channel] : channels) {
    auto feed =
        std::make_shared<ChannelFeed>(name, *channel, storage, scheduler, timeout, registry);
    EventBus& bus = channel->wants_device_tokens() ? buses.from_log : buses.delivered;
    bus.subscribe(notified_event_types(), feed);
    feeds->emplace(name, std::move(feed));
  }
  if (!scheduler) return;
  scheduler->on(jobs::kind::kPush, [feeds](const sdk::Job& job) -> sdk::JobOutcome {
    const auto it = feeds->find(job.payload.value("channel", ""));
    if (it == feeds->end()) {
      // The channel was removed from the config since the job was made.
      return {sdk::JobOutcome::Kind::failed, {}, "no push channel named in the job is loaded"};
    }
    return it->second->retry(job);
  });
}

}  // namespace flashsale::push
