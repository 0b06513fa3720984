// push/hello: greets each of the user's registered devices in the host log, and reports tokens
// its (pretend) provider no longer knows so the host deletes them. The out-of-tree example of
// docs/plugin-sdk.md.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <flashsale/sdk/push.hpp>
#include <flashsale/sdk/settings.hpp>
#include <string>

namespace hello {

class HelloChannel final : public flashsale::sdk::PushChannel {
 public:
  // Reads and validates `plugin.hello`; a throw here makes the host refuse the plugin.
  explicit HelloChannel(flashsale::sdk::HostContext& host)
      : host_(host),
        sent_(prometheus::BuildCounter()
                  .Name("flashsale_hello_sent_total")
                  .Help("Greetings sent by push/hello")
                  .Register(host.metrics())
                  .Add({})) {
    flashsale::sdk::Settings settings(host);
    greeting_ = settings.text("greeting", greeting_, [](const std::string& text) {
      return text.empty() ? "must be a non-empty string" : "";
    });
    settings.done();  // any other key is refused
  }

  // The host fills Notification::device_tokens for this channel.
  [[nodiscard]] bool wants_device_tokens() const override { return true; }

  // Runs on this channel's own host thread, one call at a time; must not throw.
  flashsale::sdk::Delivery deliver(const flashsale::sdk::Notification& n) override {
    flashsale::sdk::Delivery delivery;
    for (const auto& token : n.device_tokens) {
      if (token.starts_with("stale-")) {
        delivery.unregistered_tokens.push_back(token);  // the host forgets it
        continue;
      }
      host_.log(flashsale::sdk::LogLevel::info,
                greeting_ + " " + token + ": " + n.title + " (" + n.event_type + ")");
      sent_.Increment();
    }
    return delivery;  // delivered
  }

 private:
  flashsale::sdk::HostContext& host_;
  prometheus::Counter& sent_;
  std::string greeting_ = "Hello";
};

}  // namespace hello

FLASHSALE_PLUGIN(hello::HelloChannel, "hello", "1.0.0")
