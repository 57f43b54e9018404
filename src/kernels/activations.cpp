#include "seqnet/activations.h"

#include "kernels/activation_kernels.h"
#include "seqnet/tensor.h"

namespace seqnet {

Activation activation_from_name(const std::string& name) {
  if (name.empty() || name == "linear" || name == "None") return Activation::linear;
  if (name == "relu") return Activation::relu;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "tanh") return Activation::tanh;
  if (name == "softmax") return Activation::softmax;
  if (name == "swish" || name == "silu") return Activation::silu;
  if (name == "gelu") return Activation::gelu;
  if (name == "elu") return Activation::elu;
  if (name == "selu") return Activation::selu;
  if (name == "softplus") return Activation::softplus;
  if (name == "softsign") return Activation::softsign;
  if (name == "hard_sigmoid") return Activation::hard_sigmoid;
  if (name == "exponential") return Activation::exponential;
  if (name == "hard_sigmoid_keras2") return Activation::hard_sigmoid_keras2;
  throw Error("unknown activation '" + name +
              "' (known: linear, relu, sigmoid, tanh, softmax, swish, silu, gelu, elu, selu, softplus, softsign, "
              "hard_sigmoid, exponential, hard_sigmoid_keras2)");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::linear: return "linear";
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::tanh: return "tanh";
    case Activation::softmax: return "softmax";
    case Activation::silu: return "silu";
    case Activation::gelu: return "gelu";
    case Activation::elu: return "elu";
    case Activation::selu: return "selu";
    case Activation::softplus: return "softplus";
    case Activation::softsign: return "softsign";
    case Activation::hard_sigmoid: return "hard_sigmoid";
    case Activation::exponential: return "exponential";
    case Activation::hard_sigmoid_keras2: return "hard_sigmoid_keras2";
  }
  return "linear";
}

bool activation_backward_needs_only_output(Activation a) {
  switch (a) {
    case Activation::linear:
    case Activation::relu:
    case Activation::sigmoid:
    case Activation::tanh:
    case Activation::softmax:
    case Activation::exponential:
      return true;
    default:
      return false;
  }
}

void activation_forward(Activation a, const float* x, float* y, long n, long row) {
  kernels::activation_forward(a, x, y, n, row);
}

void activation_backward(Activation a, const float* x, const float* y, const float* dy, float* dx, long n, long row) {
  kernels::activation_backward(a, x, y, dy, dx, n, row);
}

}  // namespace seqnet
