#include "seqnet/console.h"

#include <cstdio>
#include <mutex>
#include <unistd.h>

namespace seqnet {

namespace {
std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}
ConsoleSink& sink() {
  static ConsoleSink s;
  return s;
}
// A copy, so that a sink replaced while a message is written (another thread) stays alive for that message.
ConsoleSink current() {
  std::lock_guard<std::mutex> lock(sink_mutex());
  return sink();
}
void write_all(std::FILE* f, std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), f);
  std::fflush(f);
}
}  // namespace

void set_console(ConsoleSink s) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  sink() = std::move(s);
}

void console_out(std::string_view text) {
  ConsoleSink s = current();
  if (s.out) s.out(text);
  else write_all(stdout, text);
}

void console_err(std::string_view text) {
  ConsoleSink s = current();
  if (s.err) s.err(text);
  else write_all(stderr, text);
}

bool console_interactive() {
  ConsoleSink s = current();
  if (s.interactive) return s.interactive();
  return isatty(fileno(stdout)) != 0;
}

}  // namespace seqnet
