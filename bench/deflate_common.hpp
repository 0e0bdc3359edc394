// Shared by the permessage-deflate benchmarks: message generators and a
// clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "websockets/frame.hpp"

namespace deflate_bench {

// JSON-like text with the redundancy of real application messages: fixed
// keys, a small vocabulary, numbers.
inline std::string json_like(std::size_t size, std::uint32_t seed) {
  static constexpr std::string_view words[] = {
      "alpha", "bravo",  "charlie", "delta", "echo",   "foxtrot",  "golf",   "hotel",
      "india", "juliet", "kilo",    "lima",  "mike",   "november", "oscar",  "papa",
      "quote", "trade",  "price",   "size",  "update", "status",   "active", "pending"};
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(size + 128);
  while (s.size() < size) {
    s += R"({"type":")";
    s += words[rng() % 24];
    s += R"(","id":)";
    s += std::to_string(rng() % 100000);
    s += R"(,"user":")";
    s += words[rng() % 24];
    s += '_';
    s += std::to_string(rng() % 1000);
    s += R"(","price":)";
    s += std::to_string(rng() % 10000);
    s += '.';
    s += std::to_string(rng() % 100);
    s += R"(,"tags":[")";
    s += words[rng() % 24];
    s += R"(",")";
    s += words[rng() % 24];
    s += R"("]})";
    s += '\n';
  }
  s.resize(size);
  return s;
}

// Incompressible bytes.
inline std::string random_bytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

inline websockets::frame data_frame(std::string payload) {
  websockets::frame f;
  f.fin = true;
  f.op = websockets::opcode::binary;
  f.data = std::move(payload);
  return f;
}

using bench_clock = std::chrono::steady_clock;

inline double seconds_since(bench_clock::time_point t0) {
  return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

}  // namespace deflate_bench
