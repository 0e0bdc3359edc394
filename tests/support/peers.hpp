// Where the interop peers and the browser live, and how to start them.
// A missing peer fails the test with the package to install: ./build.sh
// installs them all, so a missing one is a broken machine, not a skip.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "child_process.hpp"

#ifndef WEBSOCKETS_SOURCE_DIR
#error "tests are built with -DWEBSOCKETS_SOURCE_DIR=\"...\" (see websockets_add_test)"
#endif

namespace websockets::testing {

// The root of the source tree.
inline std::string source_dir() {
  return WEBSOCKETS_SOURCE_DIR;
}

// tests/interop: the peer scripts and their node_modules.
inline std::string interop_dir() {
  return source_dir() + "/tests/interop";
}

// tests/browser: the Chromium driver and its pages.
inline std::string browser_dir() {
  return source_dir() + "/tests/browser";
}

// Returns `path` if it is an executable file; otherwise throws, saying
// which Debian package provides it.
inline std::string require_program(std::string path, std::string_view package) {
  if (::access(path.c_str(), X_OK) != 0) {
    throw std::runtime_error(path + " is missing: install the Debian package " +
                             std::string(package) + " (./build.sh deps does)");
  }
  return path;
}

// Returns `path` if it is a file; otherwise throws with `remedy`.
inline std::string require_file(std::string path, std::string_view remedy) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw std::runtime_error(path + " is missing: " + std::string(remedy));
  }
  return path;
}

// Debian's Python, which has websockets 10.4 (python3-websockets); the
// python3 first on PATH may be another interpreter without it.
inline std::string python3() {
  return require_program("/usr/bin/python3", "python3");
}

// Node.js, for the ws peers and the browser driver.
inline std::string node() {
  return require_program("/usr/bin/node", "nodejs");
}

// Headless Chromium, driven by tests/browser/cdp_drive.js.
inline std::string chromium() {
  return require_program("/usr/bin/chromium", "chromium");
}

// Checks that Node's ws package is installed in tests/interop.
inline void require_node_ws() {
  require_file(interop_dir() + "/node_modules/ws/package.json",
               "Node's ws is not installed: run `npm ci` in tests/interop (./build.sh deps does)");
}

// The path of a script in tests/interop.
inline std::string interop_script(std::string_view name) {
  return require_file(interop_dir() + "/" + std::string(name), "the interop peer script is gone");
}

// Starts a Python peer of tests/interop, e.g. "py_echo_server.py", with
// `args`. Python's output is unbuffered so that every line arrives at once.
inline std::unique_ptr<child_process> start_python_peer(std::string_view script,
                                                        std::vector<std::string> args = {}) {
  std::vector<std::string> argv{"-u", interop_script(script)};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return std::make_unique<child_process>(python3(), std::move(argv),
                                         spawn_options{.env = {"PYTHONDONTWRITEBYTECODE=1"}});
}

// Starts a Node peer of tests/interop, e.g. "node_echo_server.js".
inline std::unique_ptr<child_process> start_node_peer(std::string_view script,
                                                      std::vector<std::string> args = {}) {
  require_node_ws();
  std::vector<std::string> argv{interop_script(script)};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return std::make_unique<child_process>(node(), std::move(argv));
}

// Starts tests/browser/cdp_drive.js with `args` (see tests/browser/README.md).
inline std::unique_ptr<child_process> start_browser_driver(std::vector<std::string> args) {
  require_node_ws();
  std::vector<std::string> argv{
      require_file(browser_dir() + "/cdp_drive.js", "the browser driver is gone"), "--chromium",
      chromium()};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return std::make_unique<child_process>(node(), std::move(argv));
}

}  // namespace websockets::testing
