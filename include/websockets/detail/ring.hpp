// A FIFO queue on a circular array that allocates nothing until used (an
// empty std::deque allocates ~600 bytes, too much for an idle connection).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace websockets::detail {

template <class T>
class ring {
 public:
  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }

  T& front() noexcept { return slots_[head_]; }

  void push_back(T&& value) {
    if (count_ == slots_.size()) grow();
    slots_[(head_ + count_) % slots_.size()] = std::move(value);
    ++count_;
  }

  // Puts an element back in front of the others (a message taken by a
  // recv() that was cancelled before it could return it).
  void push_front(T&& value) {
    if (count_ == slots_.size()) grow();
    head_ = (head_ + slots_.size() - 1) % slots_.size();
    slots_[head_] = std::move(value);
    ++count_;
  }

  // Removes and returns the oldest element.
  T pop_front() {
    T value = std::move(slots_[head_]);
    head_ = (head_ + 1) % slots_.size();
    --count_;
    return value;
  }

  void clear() {
    slots_.clear();
    head_ = count_ = 0;
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 4 : slots_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i)
      bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_.swap(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace websockets::detail
