// Fuzz target: the payment provider's callback with its X-Signature header (HMAC-SHA256 of the
// body under the configured secret, hex in either case, optionally after "sha256="), through the
// real route, then settlement over the checking storage. Byte 0 picks how the request is signed
// (byte 0 % 3: the signature is the input's first line; the right one after "sha256="; the right
// one in upper case) and what the storage answers (byte 0 / 3 % 5); the rest is the body. A wrong
// signature must be refused before the body is looked at, a right one never.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <flashsale/crypto.hpp>
#include <string>

#include "api_harness.hpp"

namespace {

using namespace flashsale;

constexpr const char* kSecret = "whsec_fuzz";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::Api api(kSecret);
  if (size == 0) return 0;
  const int signing = data[0] % 3;
  api.storage.outcome = static_cast<fuzz::Outcome>(data[0] / 3 % 5);
  std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  http::Request req;
  req.method = "POST";
  req.path = "/v1/payments/webhook";
  std::string signature;
  if (signing == 0) {
    const auto newline = rest.find('\n');
    signature = rest.substr(0, newline);
    req.body = newline == std::string::npos ? "" : rest.substr(newline + 1);
  } else {
    req.body = std::move(rest);
    const std::string mac = crypto::hmac_sha256_hex(kSecret, req.body);
    signature = signing == 1 ? "sha256=" + mac : upper(mac);
  }
  req.headers["x-signature"] = signature;

  const int calls_before = api.storage.calls;
  api.scheduler.enqueued.clear();
  const auto response = api.serve(api.public_routes, req, false);
  const bool stored = api.storage.calls != calls_before;
  const std::string mac = crypto::hmac_sha256_hex(kSecret, req.body);
  const std::string given =
      lower(signature.rfind("sha256=", 0) == 0 ? signature.substr(7) : signature);
  if (response.status == 401 && signing != 0) fuzz::defect("a right signature was refused");
  if (response.status != 401 && given != mac) fuzz::defect("a wrong signature was let in");
  if (response.status == 500) fuzz::defect("a callback made the handler fail: " + response.body);
  if (response.status != 401 && !stored && response.status != 400) {
    fuzz::defect("a signed callback was neither refused nor recorded: " +
                 std::to_string(response.status));
  }
  const bool refund = stored && api.storage.outcome == fuzz::Outcome::refund_required;
  if (api.scheduler.enqueued.size() != (refund ? 1U : 0U)) {
    fuzz::defect("refund jobs planned: " + std::to_string(api.scheduler.enqueued.size()));
  }
  return 0;
}
