// Message contents for the compression cases. Autobahn's 12.x cases send
// slices of five files (JSON, a bitmap, German prose, HTML, a PDF); the
// driver makes data of the same kinds from a fixed seed instead, so a run
// is reproducible and needs no files: each kind compresses the way its
// model does, and text kinds are valid UTF-8 (slices end on a character).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace websockets::conformance {

// A body of data and a cursor that hands out consecutive slices of it.
class corpus {
 public:
  enum class kind { json, bitmap, prose, html, mixed_binary };

  corpus(kind k, std::size_t size = std::size_t{1} << 18) : kind_(k) { fill(size); }

  bool is_text() const noexcept { return kind_ != kind::bitmap && kind_ != kind::mixed_binary; }

  // How the data looks, for the report.
  std::string_view title() const noexcept {
    switch (kind_) {
      case kind::json:
        return "JSON records (text)";
      case kind::bitmap:
        return "an 8-bit grayscale bitmap (binary)";
      case kind::prose:
        return "German-like prose with umlauts (text)";
      case kind::html:
        return "HTML markup (text)";
      case kind::mixed_binary:
        return "a PDF-like mix of text and compressed-looking bytes (binary)";
    }
    return "";
  }

  // The next `size` bytes (a text slice stops before a cut character, so it
  // may be up to 3 bytes shorter), wrapping to the start at the end.
  std::string_view next(std::size_t size) {
    if (size > data_.size()) size = data_.size();
    if (pos_ + size > data_.size()) pos_ = 0;
    std::size_t end = pos_ + size;
    if (is_text())
      while (end > pos_ && end < data_.size() &&
             (static_cast<std::uint8_t>(data_[end]) & 0xC0) == 0x80)
        --end;
    const std::string_view slice(data_.data() + pos_, end - pos_);
    pos_ = end;
    return slice;
  }

 private:
  std::uint32_t random() {
    seed_ ^= seed_ << 13;
    seed_ ^= seed_ >> 17;
    seed_ ^= seed_ << 5;
    return seed_;
  }

  std::string_view word() {
    static constexpr std::string_view words[] = {
        "Faust",  "Geist",   "Welt",  "und",  "die",    "der",      "Natur",  "Herz",  "über",
        "schön",  "Mädchen", "größe", "weiß", "Straße", "Nacht",    "Himmel", "Erde",  "fühlen",
        "Leben",  "Wissen",  "ach",   "so",   "nicht",  "was",      "Müller", "König", "Frühling",
        "Träume", "ewig",    "Wort",  "Tat",  "Anfang", "Gretchen", "wir",    "ist",   "Blüte"};
    return words[random() % std::size(words)];
  }

  void fill(std::size_t size) {
    data_.reserve(size + 512);
    std::uint32_t n = 0;
    while (data_.size() < size) {
      ++n;
      switch (kind_) {
        case kind::json:
          data_ += "{\"id\": " + std::to_string(n) + ", \"user\": \"user-" +
                   std::to_string(random() % 5000) +
                   "\", \"active\": " + (random() % 2 ? "true" : "false") +
                   ", \"score\": " + std::to_string(random() % 10000) + "." +
                   std::to_string(random() % 100) + ", \"tags\": [\"" + std::string(word()) +
                   "\", \"" + std::string(word()) + "\"], \"note\": \"" + std::string(word()) +
                   " " + std::string(word()) + "\"},\n";
          break;
        case kind::bitmap: {
          // Rows of 512 pixels: flat shapes with soft edges, some texture.
          const std::uint32_t y = n % 512;
          for (std::uint32_t x = 0; x < 512 && data_.size() < size; ++x) {
            const std::uint32_t dx = x - 256, dy = y - 256;
            std::uint32_t v = (dx * dx + dy * dy) / 1024;     // rings
            if ((x / 64 + y / 64) % 3 == 0) v = 40 + x / 16;  // tiles
            if ((x + y) % 97 < 3) v += random() % 8;          // texture
            data_ += static_cast<char>(v & 0xFF);
          }
          break;
        }
        case kind::prose:
          for (int w = 0; w < 12; ++w) {
            data_ += word();
            data_ += w == 11 ? ".\n" : " ";
          }
          break;
        case kind::html:
          data_ += "<div class=\"row item-" + std::to_string(random() % 64) +
                   "\"><a href=\"/page/" + std::to_string(random() % 1000) + "\">" +
                   std::string(word()) + "</a> <span>" + std::string(word()) + " " +
                   std::string(word()) + "</span></div>\n";
          break;
        case kind::mixed_binary:
          if (n % 3 == 0) {
            for (int i = 0; i < 400; ++i) data_ += static_cast<char>(random() & 0xFF);
          } else {
            data_ += std::to_string(n) + " 0 obj << /Type /Page /Parent 3 0 R /Contents " +
                     std::to_string(n + 1) + " 0 R >> endobj\n";
          }
          break;
      }
    }
    data_.resize(size);
    if (is_text())  // don't end in the middle of a character
      while (!data_.empty() && (static_cast<std::uint8_t>(data_.back()) & 0x80)) data_.pop_back();
  }

  kind kind_;
  std::string data_;
  std::size_t pos_ = 0;
  std::uint32_t seed_ = 0x2545F491;
};

}  // namespace websockets::conformance
