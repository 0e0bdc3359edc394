// Case results, graded as the Autobahn|Testsuite grades them, and the
// Markdown report: every case run by a test program is recorded here, and
// when the environment variable WEBSOCKETS_CONFORMANCE_REPORT names a file,
// the program writes its table there at the end of the run. A file that
// already holds this program's markers (README.md) gets only the part
// between them replaced, so both test programs fill one README.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace websockets::conformance {

// The grades of Autobahn's reports, best first.
enum class outcome {
  ok,             // behaved as expected
  informational,  // the RFC leaves the behaviour open; recorded, not judged
  non_strict,     // acceptable, but not the strictest reading of the RFC
  failed,         // broke the RFC or the expectation
};

inline const char* to_string(outcome o) {
  switch (o) {
    case outcome::ok:
      return "OK";
    case outcome::informational:
      return "INFORMATIONAL";
    case outcome::non_strict:
      return "NON-STRICT";
    case outcome::failed:
      return "FAILED";
  }
  return "?";
}

// A case's grade so far and what led to it: each remark can only make the
// grade worse.
struct verdict {
  outcome grade = outcome::ok;
  std::string detail;

  void note(outcome o, const std::string& what) {
    if (o > grade) grade = o;
    if (!what.empty()) detail += (detail.empty() ? "" : "; ") + what;
  }
  void fail(const std::string& what) { note(outcome::failed, what); }
  bool failed() const noexcept { return grade == outcome::failed; }
};

// Orders case ids as numbers, part by part: "6.9.1" before "6.10.1".
inline bool id_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    std::size_t ei = a.find('.', i), ej = b.find('.', j);
    if (ei == std::string::npos) ei = a.size();
    if (ej == std::string::npos) ej = b.size();
    const std::string_view pa(a.data() + i, ei - i), pb(b.data() + j, ej - j);
    if (pa.size() != pb.size()) return pa.size() < pb.size();  // no leading zeros
    if (pa != pb) return pa < pb;
    i = ei + 1;
    j = ej + 1;
  }
  return a.size() - std::min(i, a.size()) < b.size() - std::min(j, b.size());
}

// The cases in which a valid message and a faulty frame arrive together:
// the library answers the message before it fails the connection, so
// NON-STRICT on one of them fails its test too.
inline bool answers_before_failing(std::string_view id) {
  constexpr std::string_view ids[] = {"3.2",   "3.3",   "3.4",   "4.1.3", "4.1.4",
                                      "4.1.5", "4.2.3", "4.2.4", "4.2.5", "5.15"};
  return std::find(std::begin(ids), std::end(ids), id) != std::end(ids);
}

// Whether a case's result fails its ctest test.
inline bool fails_test(std::string_view id, outcome grade) {
  return grade == outcome::failed || (grade == outcome::non_strict && answers_before_failing(id));
}

// One line of the report.
struct case_result {
  std::string id;           // "6.4.3", as in Autobahn's case list
  std::string description;  // what the driver does
  std::string expectation;  // what a conforming peer does
  outcome grade = outcome::ok;
  std::string detail;  // what the peer did, when it matters
  double seconds = 0;
  std::string section;  // "5 Fragmentation", set when recorded
};

// Everything recorded by this program, per side ("server" or "client").
class result_log {
 public:
  static result_log& instance() {
    static result_log log;
    return log;
  }

  void add(const std::string& side, case_result r) {
    std::lock_guard lock(mutex_);
    sides_[side].push_back(std::move(r));
  }

  // The Markdown section of one side.
  std::string markdown(const std::string& side) const {
    std::lock_guard lock(mutex_);
    std::ostringstream out;
    const auto found = sides_.find(side);
    if (found == sides_.end()) return {};
    std::vector<case_result> results = found->second;
    std::stable_sort(
        results.begin(), results.end(),
        [](const case_result& a, const case_result& b) { return id_less(a.id, b.id); });
    std::map<outcome, int> counts;
    // Per section, in the order of its first case.
    std::vector<std::pair<std::string, std::map<outcome, int>>> sections;
    double seconds = 0;
    for (const auto& r : results) {
      ++counts[r.grade];
      seconds += r.seconds;
      auto it = std::find_if(sections.begin(), sections.end(),
                             [&](const auto& entry) { return entry.first == r.section; });
      if (it == sections.end()) it = sections.insert(sections.end(), {r.section, {}});
      ++it->second[r.grade];
    }
    const outcome grades[] = {outcome::ok, outcome::non_strict, outcome::informational,
                              outcome::failed};
    out << "### "
        << (side == "server" ? "As a server (examples/echo_server)"
                             : "As a client (websockets::connect())")
        << "\n\n"
        << results.size() << " cases: ";
    bool first = true;
    for (auto o : grades) {
      out << (first ? "" : ", ") << counts[o] << " " << to_string(o);
      first = false;
    }
    out << " (" << static_cast<int>(seconds + 0.5) << " s of cases"
#if defined(__SANITIZE_ADDRESS__)
        << ", sanitizer build: lighter bulk cases"
#endif
        << ").\n\n";
    out << "| Section | Cases | OK | NON-STRICT | INFORMATIONAL | FAILED |\n";
    out << "|---|---|---|---|---|---|\n";
    for (auto& [name, by_grade] : sections) {
      int n = 0;
      for (auto o : grades) n += by_grade[o];
      out << "| " << cell(name) << " | " << n;
      for (auto o : grades) out << " | " << by_grade[o];
      out << " |\n";
    }
    out << "\n";
    out << "| Case | Description | Expected | Result | Details |\n";
    out << "|---|---|---|---|---|\n";
    for (const auto& r : results) {
      out << "| " << r.id << " | " << cell(r.description) << " | " << cell(r.expectation) << " | "
          << to_string(r.grade) << " | " << cell(r.detail) << " |\n";
    }
    out << "\n";
    return out.str();
  }

  // Writes each side's table to `path`: between "<!-- conformance:SIDE:begin
  // -->" and "<!-- conformance:SIDE:end -->" when the file has them, else
  // appended to what is there.
  void write(const std::string& path) const {
    std::string text;
    {
      std::ifstream in(path, std::ios::binary);
      std::ostringstream all;
      all << in.rdbuf();
      text = all.str();
    }
    std::vector<std::string> names;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [side, results] : sides_) names.push_back(side);
    }
    for (const auto& side : names) {
      const std::string begin = "<!-- conformance:" + side + ":begin -->";
      const std::string end = "<!-- conformance:" + side + ":end -->";
      const std::string body = begin + "\n" + markdown(side) + end;
      const auto b = text.find(begin);
      const auto e = text.find(end);
      if (b != std::string::npos && e != std::string::npos && e > b) {
        text.replace(b, e + end.size() - b, body);
      } else {
        text += body + "\n";
      }
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) std::fprintf(stderr, "conformance: can't write the report to %s\n", path.c_str());
  }

 private:
  // Table cells can't hold '|' or line breaks.
  static std::string cell(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '|')
        out += "\\|";
      else if (c == '\n')
        out += ' ';
      else
        out += c;
    }
    return out;
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::vector<case_result>> sides_;
};

}  // namespace websockets::conformance
