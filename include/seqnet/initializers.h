// Weight initializers with Keras 3 semantics (keras/src/initializers).
#pragma once
#include <string>

#include "seqnet/random.h"
#include "seqnet/tensor.h"

namespace seqnet {

// Names: glorot_uniform (Keras's default kernel initializer), glorot_normal, he_uniform, he_normal,
// lecun_uniform, lecun_normal, orthogonal (gain), random_uniform / uniform (minval, maxval; -0.05..0.05),
// random_normal / normal (mean, stddev 0.05), truncated_normal (mean, stddev 0.05), zeros, ones,
// constant (value), identity (gain), variance_scaling (scale, mode, distribution).
struct Initializer {
  std::string name = "glorot_uniform";
  float value = 0.0f;    // constant
  float minval = -0.05f, maxval = 0.05f;  // random_uniform
  float mean = 0.0f, stddev = 0.05f;      // random_normal, truncated_normal
  float gain = 1.0f;     // orthogonal, identity
  float scale = 1.0f;    // variance_scaling
  std::string mode = "fan_in";                  // variance_scaling: fan_in | fan_out | fan_avg
  std::string distribution = "truncated_normal";  // variance_scaling: truncated_normal | untruncated_normal | uniform

  Initializer() = default;
  Initializer(const char* n) : name(n) {}
  Initializer(std::string n) : name(std::move(n)) {}
  static Initializer constant(float v) { Initializer i("constant"); i.value = v; return i; }
  static Initializer uniform(float lo, float hi) { Initializer i("random_uniform"); i.minval = lo; i.maxval = hi; return i; }
  static Initializer normal(float m, float s) { Initializer i("random_normal"); i.mean = m; i.stddev = s; return i; }
};

// Fills a tensor of `shape` (Keras layout) following `init`. Fans follow Keras's compute_fans:
// the last axis is fan_out, the one before fan_in, and any leading axes form the receptive field.
Tensor initialize(const Initializer& init, const Shape& shape, Rng& rng);
void validate_initializer(const Initializer& init);  // throws seqnet::Error naming an unknown initializer

}  // namespace seqnet
