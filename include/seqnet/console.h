// Where the training log goes: fit's progress bar, the callbacks' messages, summary() and warnings.
// Standard output and standard error by default; a host that has its own streams (the Python package routes
// them to sys.stdout, which may be a Jupyter cell or pytest's capture) installs a sink instead.
#pragma once
#include <functional>
#include <string_view>

namespace seqnet {

struct ConsoleSink {
  std::function<void(std::string_view)> out;  // the log and summary(); each call is flushed
  std::function<void(std::string_view)> err;  // warnings
  // Whether the progress bar may redraw its line in place ("\r"): a terminal or a notebook, not a pipe.
  std::function<bool()> interactive;
};

// Installs `sink` for every later message (an empty sink restores standard output and error).
void set_console(ConsoleSink sink);
void console_out(std::string_view text);
void console_err(std::string_view text);
bool console_interactive();

}  // namespace seqnet
