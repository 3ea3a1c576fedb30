#pragma once
/// Framing of an undelimited stream of JSON texts: finds where one complete
/// top-level JSON text ends inside a receive buffer. This is not a parser: it
/// tracks only string/escape state, bracket nesting and the shape of bare
/// scalars; the text it delimits is then parsed (and fully validated) by
/// nlohmann::json. It also rejects early what can never become valid JSON
/// (a stray byte outside a string, a mismatched bracket, nesting deeper than
/// the limit) so that a broken client is answered without waiting for more
/// bytes.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace reactor::rpc {

/// Outcome of FrameScanner::scan.
enum class ScanStatus : std::uint8_t {
  need_more,  ///< no complete text yet; call scan again after appending bytes
  complete,   ///< a complete text occupies [0, end)
  invalid,    ///< byte `error_at` can never be part of valid JSON here
  too_deep,   ///< byte `error_at` opens a container beyond the depth limit
};

/// Result of FrameScanner::scan; `end` is meaningful for `complete`,
/// `error_at` for `invalid` and `too_deep`.
struct ScanResult {
  ScanStatus status = ScanStatus::need_more;
  std::size_t end = 0;
  std::size_t error_at = 0;
};

/// True for the whitespace JSON allows between tokens (space, tab, CR, LF).
constexpr bool is_json_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/// Incremental end-of-text detector for one JSON text at a time.
///
/// The caller keeps a buffer whose first byte is the first non-whitespace
/// byte of the text (skip whitespace with is_json_space before the first
/// scan), appends bytes to it and calls scan() with the whole buffer each
/// time; the scanner resumes where it stopped, so feeding a text byte by
/// byte costs O(n) overall. After `complete`, `invalid` or `too_deep` the
/// caller consumes bytes and calls reset() before scanning the next text.
///
/// Top-level scalars: a string or literal (true/false/null) is complete at its
/// last byte; a bare number only once a byte that cannot continue it arrives
/// (that byte is not part of the text). Objects and arrays are complete at
/// their closing bracket. Not thread-safe; one scanner per stream.
class FrameScanner {
 public:
  /// `max_depth`: deepest allowed nesting of objects/arrays (the server uses
  /// 64, the JSON-RPC parser limit).
  explicit FrameScanner(std::size_t max_depth) noexcept : max_depth_(max_depth) {}

  /// Scans `buf` from where the previous call stopped. `buf` must start with
  /// the same bytes as in the previous calls since reset().
  ScanResult scan(std::string_view buf);

  /// Forgets all state: the next scan() starts a new text at buf[0].
  void reset() noexcept;

  /// True while nothing of the current text has been scanned yet.
  bool fresh() const noexcept { return mode_ == Mode::start; }

 private:
  enum class Mode : std::uint8_t { start, container, string, number, literal };

  ScanResult fail(ScanStatus status, std::size_t at);
  ScanResult scan_container(std::string_view buf);

  std::size_t max_depth_;
  Mode mode_ = Mode::start;
  std::size_t pos_ = 0;          // next byte of buf to look at
  bool in_string_ = false;       // container mode: inside a string
  bool escape_ = false;          // the previous byte was an unescaped backslash
  std::string_view literal_;     // literal mode: the word being matched
  std::vector<bool> is_object_;  // open containers, innermost last
};

}  // namespace reactor::rpc
