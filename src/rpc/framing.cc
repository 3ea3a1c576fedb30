// FrameScanner: where does the current JSON text end?
//
// Design: the scanner is a resumable loop over the bytes appended since the
// previous call (pos_), so a request that trickles in byte by byte is scanned
// once in total. It knows just enough JSON to find the end of a value:
//   - outside strings, only structural characters, whitespace, number
//     characters and the letters of true/false/null can appear; anything else
//     is reported at once (a parser would reject it anyway, and waiting for a
//     closing bracket that makes no difference would leave the client hanging);
//   - inside strings, a backslash escapes the next byte and raw control
//     characters are invalid; UTF-8 validity is left to nlohmann's lexer;
//   - brackets must match and nest at most max_depth_ levels.
// Everything else (number grammar, literal spelling inside containers, commas
// and colons in the right places) is the parser's job.

#include "rpc/framing.hh"

namespace reactor::rpc {
namespace {

constexpr bool is_number_char(char c) noexcept {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// Letters of true, false and null.
constexpr bool is_literal_char(char c) noexcept {
  switch (c) {
    case 't': case 'r': case 'u': case 'e': case 'f': case 'a': case 'l': case 's': case 'n':
      return true;
    default:
      return false;
  }
}

}  // namespace

void FrameScanner::reset() noexcept {
  mode_ = Mode::start;
  pos_ = 0;
  in_string_ = false;
  escape_ = false;
  literal_ = {};
  is_object_.clear();
}

ScanResult FrameScanner::fail(ScanStatus status, std::size_t at) {
  ScanResult r;
  r.status = status;
  r.error_at = at;
  return r;
}

ScanResult FrameScanner::scan(std::string_view buf) {
  if (mode_ == Mode::start) {
    if (buf.empty()) return {};
    const char c = buf[0];
    pos_ = 1;
    if (c == '{' || c == '[') {
      if (max_depth_ == 0) return fail(ScanStatus::too_deep, 0);
      mode_ = Mode::container;
      is_object_.push_back(c == '{');
    } else if (c == '"') {
      mode_ = Mode::string;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      mode_ = Mode::number;
    } else if (c == 't' || c == 'f' || c == 'n') {
      mode_ = Mode::literal;
      literal_ = c == 't' ? "true" : c == 'f' ? "false" : "null";
    } else {
      return fail(ScanStatus::invalid, 0);
    }
  }

  switch (mode_) {
    case Mode::container:
      return scan_container(buf);
    case Mode::string:
      for (; pos_ < buf.size(); ++pos_) {
        const char c = buf[pos_];
        if (escape_) {
          escape_ = false;
        } else if (c == '\\') {
          escape_ = true;
        } else if (c == '"') {
          ScanResult r;
          r.status = ScanStatus::complete;
          r.end = pos_ + 1;
          return r;
        } else if (static_cast<unsigned char>(c) < 0x20) {
          return fail(ScanStatus::invalid, pos_);
        }
      }
      return {};
    case Mode::number:
      for (; pos_ < buf.size(); ++pos_) {
        if (!is_number_char(buf[pos_])) {
          ScanResult r;
          r.status = ScanStatus::complete;
          r.end = pos_;
          return r;
        }
      }
      return {};
    case Mode::literal:
      for (; pos_ < buf.size(); ++pos_) {
        if (pos_ >= literal_.size()) break;
        if (buf[pos_] != literal_[pos_]) return fail(ScanStatus::invalid, pos_);
      }
      if (pos_ >= literal_.size()) {
        ScanResult r;
        r.status = ScanStatus::complete;
        r.end = literal_.size();
        return r;
      }
      return {};
    case Mode::start:
      break;
  }
  return {};
}

ScanResult FrameScanner::scan_container(std::string_view buf) {
  for (; pos_ < buf.size(); ++pos_) {
    const char c = buf[pos_];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        return fail(ScanStatus::invalid, pos_);
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        break;
      case '{':
      case '[':
        if (is_object_.size() >= max_depth_) return fail(ScanStatus::too_deep, pos_);
        is_object_.push_back(c == '{');
        break;
      case '}':
      case ']':
        if (is_object_.back() != (c == '}')) return fail(ScanStatus::invalid, pos_);
        is_object_.pop_back();
        if (is_object_.empty()) {
          ScanResult r;
          r.status = ScanStatus::complete;
          r.end = pos_ + 1;
          return r;
        }
        break;
      case ':':
      case ',':
        break;
      default:
        if (!is_json_space(c) && !is_number_char(c) && !is_literal_char(c))
          return fail(ScanStatus::invalid, pos_);
        break;
    }
  }
  return {};
}

}  // namespace reactor::rpc
