// Hashes the service needs, as lowercase hex: SHA-256 (migration checksums) and HMAC-SHA256
// (payment webhook signatures). OpenSSL underneath.
#pragma once

#include <string>

namespace flashsale::crypto {

std::string sha256_hex(const std::string& data);
std::string hmac_sha256_hex(const std::string& key, const std::string& data);
/// a == b, in a time that does not depend on where they differ (for comparing signatures).
bool equal_constant_time(const std::string& a, const std::string& b);

}  // namespace flashsale::crypto
