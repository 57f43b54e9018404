// Keras 2's progress bar: "625/625 [==============================] - 21s 33ms/step - loss: 0.5354 - acc: 0.7829".
// Redrawn in place on a terminal or in a notebook; one final line per epoch when the output is a pipe or a file.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "seqnet/callbacks.h"

namespace seqnet {

std::string format_log_value(double v);  // "%.4f", or "%.4e" for tiny values, as Keras

class Progbar {
 public:
  Progbar(int64_t target, int verbose);  // writes to the console (seqnet/console.h)
  void update(int64_t current, const Logs& logs, bool finalize = false);

 private:
  std::string bar(int64_t current) const;
  int64_t target_;
  int verbose_;
  bool dynamic_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
  size_t last_width_ = 0;
};

}  // namespace seqnet
