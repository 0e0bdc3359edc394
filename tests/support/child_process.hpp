// A program run by a test: its own process group, its stdout read line by
// line with a deadline, its stdin written to, and everything it started
// killed when the object goes away, so that no test leaves a process behind.
//
//   websockets::testing::child_process server(python3(), {interop_script("py_echo_server.py")});
//   std::uint16_t port = server.wait_for_port();
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace websockets::testing {

using std::chrono::milliseconds;

// Whether process `pid` is gone (or a zombie: it ran its last instruction).
inline bool process_gone(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return true;
  char buf[512] = {};
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  // "pid (comm) S ...": the state follows the last ')'.
  std::string_view stat(buf, n);
  auto paren = stat.rfind(')');
  return paren != std::string_view::npos && paren + 2 < stat.size() &&
         (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X');
}

// How a child process ended.
struct exit_status {
  int code = -1;   // exit code, or -1 if killed by a signal
  int signal = 0;  // the signal that killed it, or 0

  bool success() const noexcept { return code == 0; }
  std::string describe() const {
    return signal ? "killed by signal " + std::to_string(signal)
                  : "exit code " + std::to_string(code);
  }
};

// How to start a child process.
struct spawn_options {
  // Variables set (or replaced) in the inherited environment, "NAME=value".
  std::vector<std::string> env = {};
  // Directory to run in; empty: the test's own.
  std::string working_directory = {};
  // Copy the child's stderr to the test's stderr, prefixed with its name
  // (ctest shows it on failure). It is kept for error messages either way.
  bool echo_stderr = true;
};

// A running program; see the top of this file.
class child_process {
 public:
  // Starts `program` (a path) with `args` (argv[1...]). Throws
  // std::runtime_error, naming the program, if it cannot be started.
  child_process(std::string program, std::vector<std::string> args, spawn_options options = {})
      : program_(std::move(program)), echo_stderr_(options.echo_stderr) {
    int in[2], out[2], err[2], wake[2];
    make_pipe(in);
    make_pipe(out);
    make_pipe(err);
    make_pipe(wake);
    stdin_fd_ = in[1];
    stdout_fd_ = out[0];
    stderr_fd_ = err[0];
    wake_read_ = wake[0];
    wake_write_ = wake[1];

    std::vector<std::string> argv_storage{program_};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage = merged_environment(options.env);
    std::vector<char*> envp;
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    if (!options.working_directory.empty()) {
      posix_spawn_file_actions_addchdir_np(&actions, options.working_directory.c_str());
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // A group of its own, so that the destructor reaches its children too;
    // default signal handling and an empty mask, whatever the test runner set.
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(&pid_, program_.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
      pid_ = -1;
      close_fds();
      throw std::runtime_error("cannot start " + program_ + ": " + std::strerror(rc));
    }
    reader_ = std::thread([this] { read_output(); });
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Closes stdin (well-behaved peers exit on that), then terminates and
  // finally kills the whole process group, and reaps the child.
  ~child_process() {
    stop(milliseconds(1000));
    wake_reader();
    if (reader_.joinable()) reader_.join();
    close_fds();
  }

  pid_t pid() const noexcept { return pid_; }
  const std::string& program() const noexcept { return program_; }

  // The next line of stdout, without its newline; std::nullopt once the
  // child closed stdout and every line was read. Throws on timeout.
  std::optional<std::string> read_line(milliseconds timeout = milliseconds(15000)) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return !lines_.empty() || stdout_closed_; })) {
      throw std::runtime_error(failure_locked("no line on stdout within " + ms(timeout)));
    }
    if (lines_.empty()) return std::nullopt;
    std::string line = std::move(lines_.front());
    lines_.pop_front();
    return line;
  }

  // Skips lines until one matches `pattern` entirely; returns the line and
  // then each capture group. Throws if the output ends or time runs out.
  std::vector<std::string> expect_line(const std::regex& pattern,
                                       milliseconds timeout = milliseconds(15000),
                                       std::string_view what = "a matching line") {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mutex_);
    for (;;) {
      while (!lines_.empty()) {
        std::string line = std::move(lines_.front());
        lines_.pop_front();
        std::smatch m;
        if (std::regex_match(line, m, pattern)) {
          std::vector<std::string> out;
          for (const auto& sub : m) out.push_back(sub.str());
          return out;
        }
      }
      if (stdout_closed_) {
        throw std::runtime_error(
            failure_locked("stdout ended before " + std::string(what) + " was printed"));
      }
      if (changed_.wait_until(lock, deadline) == std::cv_status::timeout && lines_.empty() &&
          !stdout_closed_) {
        throw std::runtime_error(
            failure_locked(std::string(what) + " was not printed within " + ms(timeout)));
      }
    }
  }

  // Waits for the "PORT <n>" line that every interop peer prints once it
  // listens, and returns n.
  std::uint16_t wait_for_port(milliseconds timeout = milliseconds(15000)) {
    static const std::regex port_line(R"(PORT (\d{1,5}))");
    auto m = expect_line(port_line, timeout, "\"PORT <n>\"");
    return static_cast<std::uint16_t>(std::stoul(m[1]));
  }

  // Writes all of `data` to the child's stdin. Throws if it is closed; a
  // child that exited does not kill the test with SIGPIPE.
  void write(std::string_view data) {
    if (stdin_fd_ < 0) throw std::runtime_error(program_ + ": stdin is already closed");
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    sigset_t pending_before;
    sigpending(&pending_before);
    int error = 0;
    while (!data.empty()) {
      ssize_t n = ::write(stdin_fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        error = errno;
        break;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    if (error == EPIPE && !sigismember(&pending_before, SIGPIPE)) {
      timespec zero{};
      sigtimedwait(&pipe_only, nullptr, &zero);  // swallow the SIGPIPE we caused
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (error) {
      throw std::runtime_error(
          failure("cannot write to stdin: " + std::string(std::strerror(error))));
    }
  }

  // Writes `line` and a newline.
  void write_line(std::string_view line) {
    std::string s(line);
    s += '\n';
    write(s);
  }

  // Closes the child's stdin: it reads end of file.
  void close_stdin() noexcept {
    if (stdin_fd_ >= 0) ::close(std::exchange(stdin_fd_, -1));
  }

  // Sends `sig` to the child's whole process group.
  void signal(int sig) {
    if (pid_ > 0 && !status_) ::kill(-pid_, sig);
  }

  // Waits for the child to exit; std::nullopt if it is still running after
  // `timeout`.
  std::optional<exit_status> wait(milliseconds timeout = milliseconds(15000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (reap(false)) return status_;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(5));
    }
  }

  // Waits for the child to exit and returns how; throws after `timeout`.
  exit_status wait_exit(milliseconds timeout = milliseconds(15000)) {
    if (auto s = wait(timeout)) return *s;
    throw std::runtime_error(failure("still running after " + ms(timeout)));
  }

  // Closes stdin, waits up to `grace`, then SIGTERM, then SIGKILL to the
  // group; returns how the child ended.
  exit_status stop(milliseconds grace = milliseconds(2000)) {
    if (pid_ <= 0) return {};
    close_stdin();
    if (!wait(grace)) {
      signal(SIGTERM);
      if (!wait(grace)) {
        ::kill(-pid_, SIGKILL);
        reap(true);
      }
    }
    // Anything the child left in its group goes too.
    ::kill(-pid_, SIGKILL);
    return *status_;
  }

  // Everything the child wrote to stderr (the last 64 KiB).
  std::string stderr_text() const {
    std::lock_guard lock(mutex_);
    return stderr_;
  }

  // The stdout lines not read yet, for messages.
  std::vector<std::string> unread_lines() const {
    std::lock_guard lock(mutex_);
    return {lines_.begin(), lines_.end()};
  }

  // A message naming the program and quoting its stderr, for failures.
  std::string failure(const std::string& what) const {
    std::lock_guard lock(mutex_);
    return failure_locked(what);
  }

 private:
  static void make_pipe(int fds[2]) {
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe2");
  }

  static std::string ms(milliseconds t) { return std::to_string(t.count()) + " ms"; }

  static std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    auto name_of = [](std::string_view kv) { return kv.substr(0, kv.find('=')); };
    for (char** e = environ; e && *e; ++e) {
      std::string_view kv(*e);
      bool replaced = false;
      for (const auto& x : extra) replaced = replaced || name_of(x) == name_of(kv);
      if (!replaced) env.emplace_back(kv);
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
  }

  // Collects the exit status; `block` waits for it.
  bool reap(bool block) {
    std::lock_guard lock(reap_mutex_);
    if (status_) return true;
    if (pid_ <= 0) return false;
    int raw = 0;
    pid_t r;
    do r = ::waitpid(pid_, &raw, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r != pid_) return false;
    exit_status s;
    if (WIFEXITED(raw)) s.code = WEXITSTATUS(raw);
    if (WIFSIGNALED(raw)) s.signal = WTERMSIG(raw);
    status_ = s;
    return true;
  }

  std::string failure_locked(const std::string& what) const {
    std::string msg = program_ + " (pid " + std::to_string(pid_) + "): " + what;
    if (!lines_.empty()) {
      msg += "\n--- unread stdout:";
      for (const auto& l : lines_) msg += "\n" + l;
    }
    if (!stderr_.empty()) msg += "\n--- stderr:\n" + stderr_;
    return msg;
  }

  // The reader thread: splits stdout into lines and keeps stderr, until
  // both close or the destructor wakes it.
  void read_output() {
    std::string partial_out, partial_err;
    bool out_open = true, err_open = true;
    char buf[8192];
    while (out_open || err_open) {
      pollfd fds[3] = {{out_open ? stdout_fd_ : -1, POLLIN, 0},
                       {err_open ? stderr_fd_ : -1, POLLIN, 0},
                       {wake_read_, POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[2].revents) break;
      for (int i = 0; i < 2; ++i) {
        if (!fds[i].revents) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          (i == 0 ? out_open : err_open) = false;
          if (i == 0) finish_stdout(partial_out);
          continue;
        }
        if (i == 0) {
          take_stdout(partial_out, std::string_view(buf, static_cast<std::size_t>(n)));
        } else {
          take_stderr(partial_err, std::string_view(buf, static_cast<std::size_t>(n)));
        }
      }
    }
    finish_stdout(partial_out);
    if (!partial_err.empty()) take_stderr(partial_err, "\n");
  }

  void take_stdout(std::string& partial, std::string_view data) {
    partial.append(data);
    std::lock_guard lock(mutex_);
    std::size_t start = 0, nl;
    while ((nl = partial.find('\n', start)) != std::string::npos) {
      std::size_t end = nl > start && partial[nl - 1] == '\r' ? nl - 1 : nl;
      lines_.emplace_back(partial, start, end - start);
      start = nl + 1;
    }
    partial.erase(0, start);
    changed_.notify_all();
  }

  void finish_stdout(std::string& partial) {
    std::lock_guard lock(mutex_);
    if (stdout_closed_) return;
    if (!partial.empty()) lines_.push_back(std::move(partial));
    partial.clear();
    stdout_closed_ = true;
    changed_.notify_all();
  }

  void take_stderr(std::string& partial, std::string_view data) {
    partial.append(data);
    std::size_t nl = partial.rfind('\n');
    if (nl == std::string::npos) return;
    std::string complete = partial.substr(0, nl + 1);
    partial.erase(0, nl + 1);
    if (echo_stderr_) {
      std::string prefixed;
      std::size_t start = 0, end;
      while ((end = complete.find('\n', start)) != std::string::npos) {
        prefixed += "[" + program_ + " " + std::to_string(pid_) + "] ";
        prefixed.append(complete, start, end + 1 - start);
        start = end + 1;
      }
      std::cerr << prefixed << std::flush;
    }
    std::lock_guard lock(mutex_);
    stderr_ += complete;
    constexpr std::size_t keep = 64 * 1024;
    if (stderr_.size() > keep) stderr_.erase(0, stderr_.size() - keep);
  }

  void wake_reader() noexcept {
    if (wake_write_ >= 0) {
      char c = 0;
      [[maybe_unused]] ssize_t n = ::write(wake_write_, &c, 1);
    }
  }

  void close_fds() noexcept {
    for (int* fd : {&stdin_fd_, &stdout_fd_, &stderr_fd_, &wake_read_, &wake_write_}) {
      if (*fd >= 0) ::close(std::exchange(*fd, -1));
    }
  }

  std::string program_;
  bool echo_stderr_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1, stdout_fd_ = -1, stderr_fd_ = -1, wake_read_ = -1, wake_write_ = -1;
  std::thread reader_;

  mutable std::mutex mutex_;  // guards what the reader thread fills
  std::condition_variable changed_;
  std::deque<std::string> lines_;
  bool stdout_closed_ = false;
  std::string stderr_;

  std::mutex reap_mutex_;
  std::optional<exit_status> status_;
};

}  // namespace websockets::testing
