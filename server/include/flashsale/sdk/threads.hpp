// Names threads, so `top -H`, gdb, perf and /proc/<pid>/task/*/comm show what each one does
// (docs/architecture.md lists them). For the host and for plugins.
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace flashsale::sdk {
inline namespace v1 {

/// Names the calling thread; Linux keeps the first 15 characters.
inline void name_this_thread(std::string_view name) {
  const std::string kept(name.substr(0, 15));
  pthread_setname_np(pthread_self(), kept.c_str());
}

}  // namespace v1
}  // namespace flashsale::sdk
