// Masking throughput: the dispatching entry point and each engine, in place
// and copying, from one frame's worth of bytes to buffers beyond the caches.
//
//   micro_mask [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include "websockets/detail/mask.hpp"

namespace {

namespace detail = websockets::detail;
using mask_fn = std::size_t (*)(std::byte*, const std::byte*, std::size_t, const detail::mask_key&,
                                std::size_t);

constexpr detail::mask_key key{std::byte{0x37}, std::byte{0xfa}, std::byte{0x21}, std::byte{0x3d}};

// What a simple implementation does: one byte at a time.
std::size_t mask_bytewise(std::byte* dst, const std::byte* src, std::size_t size,
                          const detail::mask_key& k, std::size_t phase) {
  for (std::size_t i = 0; i < size; ++i) dst[i] = src[i] ^ k[(phase + i) & 3];
  return (phase + size) & 3;
}

struct aligned_buffer {
  explicit aligned_buffer(std::size_t size)
      : p(static_cast<std::byte*>(std::aligned_alloc(64, (size + 64 + 63) / 64 * 64))) {
    for (std::size_t i = 0; i < size + 64; ++i) p[i] = std::byte(i * 31);
  }
  ~aligned_buffer() { std::free(p); }
  std::byte* p;
};

// Args: size, misalignment of the buffer.
void in_place(benchmark::State& state, mask_fn fn) {
  const auto size = static_cast<std::size_t>(state.range(0));
  aligned_buffer buf(size);
  std::byte* data = buf.p + state.range(1);
  std::size_t phase = 0;
  for (auto _ : state) {
    phase = fn(data, data, size, key, phase);
    benchmark::DoNotOptimize(data);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

void copying(benchmark::State& state, mask_fn fn) {
  const auto size = static_cast<std::size_t>(state.range(0));
  aligned_buffer src(size), dst(size);
  for (auto _ : state) {
    fn(dst.p + state.range(1), src.p, size, key, 0);
    benchmark::DoNotOptimize(dst.p);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

void sizes(benchmark::internal::Benchmark* b) {
  for (std::int64_t size : {16, 125, 1024, 16 << 10, 64 << 10, 1 << 20, 16 << 20})
    b->Args({size, 0});
  for (std::int64_t size : {125, 64 << 10, 1 << 20}) b->Args({size, 1});
}

void few_sizes(benchmark::internal::Benchmark* b) {
  for (std::int64_t size : {1024, 64 << 10, 1 << 20}) b->Args({size, 0});
}

}  // namespace

BENCHMARK_CAPTURE(in_place, apply_mask, &detail::mask_copy)->Apply(sizes);
BENCHMARK_CAPTURE(in_place, portable, &detail::mask_copy_portable)->Apply(few_sizes);
#ifdef WEBSOCKETS_DETAIL_MASK_X86
BENCHMARK_CAPTURE(in_place, sse2, &detail::mask_copy_sse2)->Apply(few_sizes);
BENCHMARK_CAPTURE(in_place, avx2, &detail::mask_copy_avx2)->Apply(few_sizes);
#endif
BENCHMARK_CAPTURE(in_place, bytewise, &mask_bytewise)->Apply(few_sizes);
BENCHMARK_CAPTURE(copying, mask_copy, &detail::mask_copy)->Apply(sizes);

BENCHMARK_MAIN();
