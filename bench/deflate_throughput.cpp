// permessage-deflate throughput: messages compressed and decompressed per
// second through permessage_deflate::encode() and decode(), with the ratio,
// for a few message sizes and settings. One thread, no I/O.
//
// Usage: bench_deflate_throughput [seconds per cell, default 0.3] [sweep]
// "sweep" adds a table of level × memLevel × window for choosing defaults.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "deflate_common.hpp"
#include "websockets/extensions/permessage_deflate.hpp"

using namespace websockets;
using namespace deflate_bench;

namespace {

struct result {
  double encode_mbps = 0;  // uncompressed MB per second
  double decode_mbps = 0;
  double ratio = 0;      // compressed / uncompressed
  double encode_us = 0;  // per message
  double decode_us = 0;
};

deflate_settings mirror(const deflate_settings& s) {
  deflate_settings m = s;
  std::swap(m.local_no_context_takeover, m.remote_no_context_takeover);
  std::swap(m.local_max_window_bits, m.remote_max_window_bits);
  return m;
}

// Encodes then decodes a rotating set of messages for `budget` seconds each.
result measure(const deflate_settings& s, const std::vector<std::string>& messages, double budget) {
  result r;
  permessage_deflate sender(s);
  std::vector<frame> encoded;
  std::size_t in_bytes = 0, out_bytes = 0, count = 0;
  auto t0 = bench_clock::now();
  frame f;
  do {
    for (const auto& m : messages) {
      f.fin = true;
      f.rsv1 = false;
      f.op = opcode::binary;
      f.data.assign(m);
      sender.encode(f);
      in_bytes += m.size();
      out_bytes += f.data.size();
      ++count;
      if (encoded.size() < messages.size()) encoded.push_back(f);
    }
  } while (seconds_since(t0) < budget);
  double t = seconds_since(t0);
  r.encode_mbps = in_bytes / t / 1e6;
  r.encode_us = t / count * 1e6;
  r.ratio = static_cast<double>(out_bytes) / in_bytes;

  // Decoding needs the stream in order: replay the first frames recorded,
  // with a fresh receiver each round so that the context matches.
  std::size_t decoded = 0;
  count = 0;
  t0 = bench_clock::now();
  frame g;
  do {
    permessage_deflate receiver(mirror(s));
    for (const auto& e : encoded) {
      g.fin = e.fin;
      g.rsv1 = e.rsv1;
      g.op = e.op;
      g.data.assign(e.data);
      receiver.decode(g, std::nullopt);
      decoded += g.data.size();
      ++count;
    }
  } while (seconds_since(t0) < budget);
  t = seconds_since(t0);
  r.decode_mbps = decoded / t / 1e6;
  r.decode_us = t / count * 1e6;
  return r;
}

// Distinct messages, 1 MiB in all or 16 of them, so that no message repeats
// within a window.
std::vector<std::string> corpus(bool text, std::size_t size) {
  std::vector<std::string> v;
  const std::size_t count = std::max<std::size_t>(16, (std::size_t{1} << 20) / size);
  for (std::uint32_t i = 0; i < count; ++i)
    v.push_back(text ? json_like(size, i + 1) : random_bytes(size, i + 1));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const double budget = argc > 1 ? std::atof(argv[1]) : 0.3;
  const bool sweep = argc > 2 && std::strcmp(argv[2], "sweep") == 0;

  struct config {
    const char* name;
    deflate_settings s;
  };
  const config configs[] = {
      {"defaults (12-bit, level 6, memLevel 4)",
       {.local_max_window_bits = 12, .remote_max_window_bits = 12}},
      {"  skip_incompressible off",
       {.local_max_window_bits = 12, .remote_max_window_bits = 12, .skip_incompressible = false}},
      {"  level 1",
       {.local_max_window_bits = 12, .remote_max_window_bits = 12, .compression_level = 1}},
      {"  no_context_takeover",
       {.local_no_context_takeover = true,
        .remote_no_context_takeover = true,
        .local_max_window_bits = 12,
        .remote_max_window_bits = 12}},
      {"15-bit, level 6, memLevel 7 (auto)", {}},
      {"  memLevel 4", {.mem_level = 4}},
      {"  memLevel 8", {.mem_level = 8}},
  };
  std::printf("%-42s %-5s %8s %10s %10s %9s %9s %7s\n", "settings", "data", "size", "enc MB/s",
              "dec MB/s", "enc us", "dec us", "ratio");
  for (const auto& c : configs) {
    for (bool text : {true, false}) {
      for (std::size_t size : {64u, 1024u, 16u * 1024u, 256u * 1024u}) {
        const auto r = measure(c.s, corpus(text, size), budget);
        std::printf("%-42s %-5s %8zu %10.1f %10.1f %9.2f %9.2f %7.3f\n", c.name,
                    text ? "json" : "rand", size, r.encode_mbps, r.decode_mbps, r.encode_us,
                    r.decode_us, r.ratio);
      }
    }
  }

  if (sweep) {
    std::printf("\nsweep on JSON-like messages (context kept), ratio and encode MB/s:\n");
    std::printf("%5s %6s %6s | %14s | %14s | %14s\n", "level", "memLvl", "window", "200 B", "2 KiB",
                "32 KiB");
    for (int level : {1, 3, 6}) {
      for (int mem : {2, 3, 4, 5, 8}) {
        for (int bits : {10, 12, 15}) {
          std::printf("%5d %6d %6d", level, mem, bits);
          for (std::size_t size : {200u, 2048u, 32768u}) {
            const deflate_settings s{.local_max_window_bits = bits,
                                     .remote_max_window_bits = bits,
                                     .compression_level = level,
                                     .mem_level = mem,
                                     .min_size = 0};
            const auto r = measure(s, corpus(true, size), budget / 3);
            std::printf(" | %6.3f %7.1f", r.ratio, r.encode_mbps);
          }
          std::printf("\n");
        }
      }
    }
  }
  return 0;
}
