// UTF-8 validation throughput on ASCII, mostly-ASCII and multi-byte text,
// for the dispatching entry points and each engine.
//
//   micro_utf8 [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>

#include "websockets/utf8.hpp"

namespace {

namespace detail = websockets::detail;

std::string encode(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// Text of `size` bytes (cut back to a code point boundary) whose code points
// are ASCII, 2-, 3- and 4-byte with the given weights.
std::string text(std::size_t size, int ascii, int two, int three, int four) {
  std::mt19937 rng(42);
  const int total = ascii + two + three + four;
  std::string s;
  while (s.size() < size) {
    const int r = static_cast<int>(rng() % static_cast<unsigned>(total));
    std::uint32_t cp;
    if (r < ascii) {
      cp = 0x20 + rng() % 0x5F;
    } else if (r < ascii + two) {
      cp = 0x400 + rng() % 0x100;  // Cyrillic
    } else if (r < ascii + two + three) {
      cp = 0x4E00 + rng() % 0x5000;  // CJK
    } else {
      cp = 0x1F300 + rng() % 0x300;  // emoji
    }
    const std::string e = encode(cp);
    if (s.size() + e.size() > size) break;
    s += e;
  }
  return s;
}

enum corpus : int { ascii, mostly_ascii, mixed, cyrillic, cjk, emoji };

std::string make(corpus c, std::size_t size) {
  switch (c) {
    case ascii:
      return text(size, 1, 0, 0, 0);
    case mostly_ascii:
      return text(size, 97, 2, 1, 0);  // English and JSON with a few accents
    case mixed:
      return text(size, 40, 20, 30, 10);
    case cyrillic:
      return text(size, 15, 85, 0, 0);
    case cjk:
      return text(size, 5, 0, 95, 0);
    default:
      return text(size, 0, 0, 0, 1);
  }
}

template <class Validate>
void run(benchmark::State& state, Validate validate) {
  const std::string s =
      make(static_cast<corpus>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  if (!validate(s)) {
    state.SkipWithError("the corpus isn't valid");
    return;
  }
  for (auto _ : state) {
    bool ok = validate(s);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.size()));
}

void is_valid(benchmark::State& state) {
  run(state, [](const std::string& s) { return websockets::is_valid_utf8(s); });
}

// A message arriving in 4 KiB reads, validated as it comes.
void feed_4k(benchmark::State& state) {
  run(state, [](const std::string& s) {
    websockets::utf8_validator v;
    for (std::size_t at = 0; at < s.size(); at += 4096)
      if (!v.feed(std::string_view(s).substr(at, 4096))) return false;
    return v.complete();
  });
}

void portable(benchmark::State& state) {
  run(state, [](const std::string& s) {
    return detail::utf8_validate_portable(reinterpret_cast<const unsigned char*>(s.data()),
                                          s.size()) == detail::utf8_accept;
  });
}

#ifdef WEBSOCKETS_DETAIL_UTF8_X86
void avx2(benchmark::State& state) {
  run(state, [](const std::string& s) {
    return detail::utf8_validate_avx2(reinterpret_cast<const unsigned char*>(s.data()), s.size()) ==
           detail::utf8_accept;
  });
}
#endif

void all(benchmark::internal::Benchmark* b) {
  for (int c : {ascii, mostly_ascii, mixed, cyrillic, cjk, emoji})
    for (std::int64_t size : {24, 64, 1024, 64 << 10, 1 << 20}) b->Args({c, size});
  b->ArgNames({"corpus", "bytes"});
}

void large(benchmark::internal::Benchmark* b) {
  for (int c : {ascii, mostly_ascii, mixed, cyrillic, cjk, emoji})
    for (std::int64_t size : {24, 64 << 10}) b->Args({c, size});
  b->ArgNames({"corpus", "bytes"});
}

}  // namespace

// corpus: 0 ASCII, 1 mostly ASCII, 2 mixed, 3 Cyrillic, 4 CJK, 5 emoji
BENCHMARK(is_valid)->Apply(all);
BENCHMARK(feed_4k)->Apply(large);
BENCHMARK(portable)->Apply(large);
#ifdef WEBSOCKETS_DETAIL_UTF8_X86
BENCHMARK(avx2)->Apply(large);
#endif

BENCHMARK_MAIN();
