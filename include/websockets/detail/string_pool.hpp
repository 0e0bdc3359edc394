// Payload buffers of small messages, recycled per thread: a message that is
// destroyed gives its buffer back, and the next message received takes it,
// so that echoing small messages allocates nothing in the steady state.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace websockets::detail {

class string_pool {
 public:
  // Buffers larger than this are worth giving back while a connection
  // idles; smaller ones cost less to keep.
  static constexpr std::size_t worth_pooling = 256;

  // A buffer with some capacity if one is pooled, else an empty string.
  static std::string take() noexcept {
    auto& p = pool();
    if (p.empty()) return {};
    std::string s = std::move(p.back());
    p.pop_back();
    return s;
  }

  // Keeps `s`'s buffer for reuse when it is small enough and the pool has
  // room, and frees it otherwise: either way `s` is left without a buffer.
  static void give(std::string&& s) noexcept {
    if (s.capacity() <= small_string_capacity) return;
    auto& p = pool();
    if (s.capacity() <= max_capacity && p.size() < p.capacity()) {
      s.clear();
      p.push_back(std::move(s));  // never reallocates: reserved on first use
    }
    std::string().swap(s);
  }

 private:
  static constexpr std::size_t small_string_capacity = 15;  // libstdc++'s inline buffer
  static constexpr std::size_t max_capacity = 16 * 1024;
  static constexpr std::size_t max_entries = 64;

  static std::vector<std::string>& pool() noexcept {
    thread_local std::vector<std::string> p = [] {
      std::vector<std::string> v;
      try {
        v.reserve(max_entries);
      } catch (...) {
      }
      return v;
    }();
    return p;
  }
};

}  // namespace websockets::detail
