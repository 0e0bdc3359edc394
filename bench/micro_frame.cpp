// The frame header codec, per frame: parsing and serializing headers of each
// size, and the whole-frame slow path.
//
//   micro_frame [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "websockets/frame.hpp"

namespace {

using namespace websockets;

constexpr detail::mask_key key{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};

// Arg 0: payload length (picks the 2-, 4- or 10-byte length encoding);
// arg 1: masked.
frame_header header_for(const benchmark::State& state) {
  frame_header h;
  h.opcode = 2;
  h.length = static_cast<std::uint64_t>(state.range(0));
  h.masked = state.range(1) != 0;
  h.mask = key;
  return h;
}

// Parses 1024 different headers back to back, as a connection does.
void parse_header(benchmark::State& state) {
  frame_header h = header_for(state);
  std::vector<std::byte> wire;
  for (int i = 0; i < 1024; ++i) {
    h.fin = i & 1;
    std::byte buf[max_frame_header_size];
    const std::size_t n = serialize_frame_header(h, buf);
    wire.insert(wire.end(), buf, buf + n);
  }
  for (auto _ : state) {
    std::span<const std::byte> in(wire);
    frame_header out;
    while (!in.empty()) {
      const std::size_t n = parse_frame_header(in, out);
      benchmark::DoNotOptimize(out);
      in = in.subspan(n);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 1024));
}

void serialize_header(benchmark::State& state) {
  frame_header h = header_for(state);
  std::vector<std::byte> out(1024 * max_frame_header_size);
  for (auto _ : state) {
    std::byte* p = out.data();
    for (int i = 0; i < 1024; ++i) {
      h.fin = i & 1;
      p += serialize_frame_header(h, p);
    }
    benchmark::DoNotOptimize(p);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 1024));
}

// The whole-frame helpers, which allocate: for tests and slow paths.
void serialize_whole(benchmark::State& state) {
  frame f;
  f.op = opcode::binary;
  f.data.assign(static_cast<std::size_t>(state.range(0)), 'x');
  const std::optional<detail::mask_key> mask = state.range(1) ? std::optional(key) : std::nullopt;
  for (auto _ : state) {
    std::string wire = serialize_frame(f, mask);
    benchmark::DoNotOptimize(wire.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void parse_whole(benchmark::State& state) {
  frame f;
  f.op = opcode::binary;
  f.data.assign(static_cast<std::size_t>(state.range(0)), 'x');
  const std::string wire = serialize_frame(f, state.range(1) ? std::optional(key) : std::nullopt);
  const auto in = std::as_bytes(std::span(wire.data(), wire.size()));
  frame out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_frame(in, out));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void header_args(benchmark::internal::Benchmark* b) {
  for (std::int64_t len : {16, 1000, 100000})
    for (std::int64_t masked : {0, 1}) b->Args({len, masked});
  b->ArgNames({"length", "masked"});
}

void whole_args(benchmark::internal::Benchmark* b) {
  for (std::int64_t masked : {0, 1}) b->Args({16, masked});
  b->ArgNames({"length", "masked"});
}

}  // namespace

BENCHMARK(parse_header)->Apply(header_args);
BENCHMARK(serialize_header)->Apply(header_args);
BENCHMARK(serialize_whole)->Apply(whole_args);
BENCHMARK(parse_whole)->Apply(whole_args);

BENCHMARK_MAIN();
