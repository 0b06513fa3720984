// Hashes the service needs, as lowercase hex: SHA-256 (migration checksums) and HMAC-SHA256
// (payment webhook signatures). OpenSSL underneath.
#pragma once

#include <string>

namespace flashsale::crypto {

std::string sha256_hex(const std::string& data);
std::string hmac_sha256_hex(const std::string& key, const std::string& data);

}  // namespace flashsale::crypto
