// Round-trip latencies in a log-linear histogram, as HdrHistogram lays them
// out: exact below 256 ns, then 128 buckets per power of two, so any value
// is known within 0.8% in fixed memory and recording costs a few
// instructions, whatever the number of samples.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace websockets::loadgen {

class latency_histogram {
 public:
  // Records one latency in nanoseconds.
  void record(std::uint64_t ns) noexcept {
    ++counts_[index_of(ns)];
    ++count_;
    sum_ += ns;
    if (ns > max_) max_ = ns;
  }

  // Forgets every sample, e.g. at the end of the warm-up.
  void clear() noexcept { *this = latency_histogram{}; }

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return count_ ? double(sum_) / double(count_) : 0.0; }

  // The latency below which `p` percent of the samples lie (the middle of
  // their bucket), in nanoseconds; 0 without samples.
  double percentile(double p) const noexcept {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(p / 100.0 * double(count_) + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > count_) rank = count_;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const double mid = (double(lowest_of(i)) + double(highest_of(i))) / 2;
        return mid < double(max_) ? mid : double(max_);
      }
    }
    return double(max_);
  }

 private:
  static constexpr unsigned sub_bits = 7;
  static constexpr std::uint64_t sub_count = std::uint64_t{1} << sub_bits;  // 128
  // Values below 2 * sub_count have a bucket each; each power of two above
  // them up to 2^63 has sub_count buckets.
  static constexpr std::size_t bucket_count = (64 - sub_bits) * sub_count;

  static std::size_t index_of(std::uint64_t v) noexcept {
    if (v < 2 * sub_count) return static_cast<std::size_t>(v);
    const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - sub_bits;
    return static_cast<std::size_t>(shift * sub_count + (v >> shift));
  }

  static std::uint64_t lowest_of(std::size_t i) noexcept {
    if (i < 2 * sub_count) return i;
    const std::uint64_t shift = i / sub_count - 1;
    return (i - shift * sub_count) << shift;
  }

  static std::uint64_t highest_of(std::size_t i) noexcept {
    if (i < 2 * sub_count) return i;
    const std::uint64_t shift = i / sub_count - 1;
    return (((i - shift * sub_count) + 1) << shift) - 1;
  }

  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace websockets::loadgen
