// Eight floats as one GCC vector (an AVX register; two SSE ones elsewhere), with unaligned loads and stores:
// the register-blocked kernels' accumulator type where GCC's own vectorizer picks poorly. Internal header.
#pragma once

namespace seqnet::kernels {

typedef float v8f __attribute__((vector_size(32)));

inline v8f load8(const float* p) {
  v8f v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
inline void store8(float* p, v8f v) { __builtin_memcpy(p, &v, sizeof(v)); }

}  // namespace seqnet::kernels
