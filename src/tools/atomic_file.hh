#pragma once
// Replacing a file so that readers (and a crash) see either the old content
// or the new one, never a mix or a truncated file (not API).

#include <string>
#include <string_view>

#include <reactor/error.hh>

namespace reactor::tools {

/// Writes `text` to `path` atomically: a temporary file in the same
/// directory (created exclusively, mode of the file it replaces or 0644),
/// written in full and fsync'ed, renamed over `path`, then the directory
/// fsync'ed so the rename itself survives a crash. On any failure `path` is
/// unchanged and the temporary file removed. Errors (Errc::io): the step and
/// errno's text, e.g. "cannot create a temporary file in /etc/reactor:
/// Permission denied". Any thread.
Result<void> write_file_atomically(const std::string& path, std::string_view text);

}  // namespace reactor::tools
