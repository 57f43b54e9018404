#include "model/progbar.h"

#include <cmath>
#include <fmt/format.h>

#include "seqnet/console.h"

namespace seqnet {

std::string format_log_value(double v) {
  if (std::isnan(v)) return "nan";
  if (std::fabs(v) > 1e-3 || v == 0.0) return fmt::format("{:.4f}", v);
  return fmt::format("{:.4e}", v);
}

Progbar::Progbar(int64_t target, int verbose)
    : target_(target), verbose_(verbose), dynamic_(console_interactive()),
      start_(std::chrono::steady_clock::now()) {}

std::string Progbar::bar(int64_t current) const {
  const int width = 30;
  int digits = int(std::to_string(target_).size());
  std::string s = fmt::format("{:>{}}/{} [", current, digits, target_);
  int filled = int(double(width) * double(current) / double(target_));
  if (filled > 0) s += std::string(size_t(filled - 1), '=') + (current < target_ ? ">" : "=");
  s += std::string(size_t(width - filled), '.');
  return s + "]";
}

static std::string format_duration(double seconds) {
  if (seconds >= 3600) return fmt::format("{}:{:02d}:{:02d}", int(seconds) / 3600, (int(seconds) % 3600) / 60, int(seconds) % 60);
  if (seconds >= 60) return fmt::format("{}:{:02d}", int(seconds) / 60, int(seconds) % 60);
  return fmt::format("{}s", int(seconds));
}

static std::string format_per_step(double seconds_per_step) {
  if (seconds_per_step >= 1) return fmt::format("{:.0f}s/step", seconds_per_step);
  if (seconds_per_step >= 1e-3) return fmt::format("{:.0f}ms/step", seconds_per_step * 1e3);
  return fmt::format("{:.0f}us/step", seconds_per_step * 1e6);
}

void Progbar::update(int64_t current, const Logs& logs, bool finalize) {
  if (verbose_ == 0) return;
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string values;
  for (const auto& [k, v] : logs.items()) values += " - " + k + ": " + format_log_value(v);

  if (verbose_ == 2) {
    if (!finalize) return;
    std::string line = fmt::format("{}/{} - {} - {}{} - {}/epoch - {}", current, target_, format_duration(elapsed),
                                   "", values.empty() ? "" : values.substr(3), format_duration(elapsed),
                                   format_per_step(current ? elapsed / double(current) : 0.0));
    console_out(line + "\n");
    return;
  }
  if (!dynamic_ && !finalize) return;
  // Redraw at most every 50 ms on a terminal, as Keras does, except for the final state.
  if (!finalize && std::chrono::duration<double>(now - last_draw_).count() < 0.05) return;
  last_draw_ = now;

  std::string line = bar(current);
  if (finalize || current >= target_) {
    line += fmt::format(" - {} {}", format_duration(elapsed), format_per_step(current ? elapsed / double(current) : 0.0));
  } else {
    double eta = current ? elapsed / double(current) * double(target_ - current) : 0.0;
    line += " - ETA: " + format_duration(eta);
  }
  line += values;
  if (dynamic_) {
    std::string padded = line;
    if (padded.size() < last_width_) padded += std::string(last_width_ - padded.size(), ' ');
    last_width_ = line.size();
    console_out("\r" + padded + (finalize ? "\n" : ""));
  } else {
    console_out(line + "\n");
  }
}

}  // namespace seqnet
