// Conv1D: y = act(conv(x, kernel) + bias) over channels-last sequences, as im2col + GEMM.
#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/layer_registry.h"
#include "layers/embedding_reader.h"
#include "layers/size_arithmetic.h"
#include "seqnet/layers/conv.h"

namespace seqnet {

namespace {
std::string lower(std::string s) {
  for (char& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}
}  // namespace

Conv1D::Conv1D(int64_t filters, int64_t kernel_size, Conv1DOptions options)
    : LogitsLayer(options.name, "conv1d", activation_from_name(options.activation)), filters_(filters),
      kernel_size_(kernel_size), options_(std::move(options)) {
  if (filters_ <= 0) fail(fmt::format("filters must be positive, got {}", filters_));
  if (kernel_size_ <= 0) fail(fmt::format("kernel_size must be positive, got {}", kernel_size_));
  if (options_.strides <= 0) fail(fmt::format("strides must be positive, got {}", options_.strides));
  if (options_.dilation_rate <= 0) fail(fmt::format("dilation_rate must be positive, got {}", options_.dilation_rate));
  options_.padding = lower(options_.padding);
  if (options_.padding != "valid" && options_.padding != "same" && options_.padding != "causal")
    fail(fmt::format("padding must be 'valid', 'same' or 'causal', got '{}'", options_.padding));
  if (options_.strides > 1 && options_.dilation_rate > 1)
    fail(fmt::format("strides > 1 cannot be combined with dilation_rate > 1 (got strides={}, dilation_rate={})",
                     options_.strides, options_.dilation_rate));
  validate_initializer(options_.kernel_initializer);
  validate_initializer(options_.bias_initializer);
  (void)size_sum(*this, size_product(*this, options_.dilation_rate, kernel_size_ - 1), 1);  // the span below
  if (options_.input_shape) set_declared_input_shape(*options_.input_shape);
}

int64_t Conv1D::output_length(int64_t steps) const {
  const int64_t s = options_.strides, span = options_.dilation_rate * (kernel_size_ - 1) + 1;
  if (options_.padding == "valid") return steps >= span ? (steps - span) / s + 1 : 0;
  return steps >= 1 ? (steps - 1) / s + 1 : 0;
}

int64_t Conv1D::pad_left(int64_t steps, int64_t out_steps) const {
  const int64_t span = options_.dilation_rate * (kernel_size_ - 1) + 1;
  if (options_.padding == "causal") return span - 1;
  // (out_steps - 1) * strides + span - steps, in an order that cannot overflow: the first product is < steps.
  if (options_.padding == "same") return std::max<int64_t>(span - (steps - (out_steps - 1) * options_.strides), 0) / 2;
  return 0;
}

void Conv1D::check_length(int64_t steps) const {
  if (output_length(steps) >= 1) return;
  const int64_t span = options_.dilation_rate * (kernel_size_ - 1) + 1;
  fail(fmt::format("input of {} steps is too short for a '{}' convolution with kernel_size {} and dilation_rate {} "
                   "(needs at least {} steps)",
                   steps, options_.padding, kernel_size_, options_.dilation_rate, std::max<int64_t>(span, 1)));
}

Shape Conv1D::build_impl(const Shape& in, Rng& rng) {
  if (in.size() != 3) fail("expects input of rank 3 (batch, steps, channels), got " + shape_to_string(in));
  if (in[2] < 0) fail("the channels axis of the input must be known, got " + shape_to_string(in));
  if (in[1] >= 0) check_length(in[1]);
  add_weight("kernel", {kernel_size_, in[2], filters_}, options_.kernel_initializer, rng);
  if (options_.use_bias) add_weight("bias", {filters_}, options_.bias_initializer, rng);
  return {in[0], in[1] < 0 ? -1 : output_length(in[1]), filters_};
}

Tensor Conv1D::forward(const Tensor& x, RunContext& ctx) {
  fused_table_ = nullptr;
  const Param* kernel = params()[0];
  const Param* bias = options_.use_bias ? params()[1] : nullptr;
  const int64_t B = x.dim(0), L = x.dim(1);
  check_length(L);
  const int64_t Lout = output_length(L);
  // Backward reads the input (the kernel gradient); inference does not, and skips the copy.
  keep_input(x_, x, ctx.keep_for_backward);  // backward reads the input
  Tensor z = Tensor::uninitialized({B, Lout, filters_});  // every path of conv1d_forward writes every value
  backend().conv1d_forward(z, x, kernel->value, bias ? &bias->value : nullptr,
                           {kernel_size_, options_.strides, options_.dilation_rate, pad_left(L, Lout)});
  return activate(std::move(z), ctx.keep_for_backward);
}

Tensor Conv1D::call_on_embedding(Embedding& embedding, const Tensor& ids, RunContext& ctx) {
  RunContext ids_ctx = ctx;
  ids_ctx.input_grad = false;  // ids have no gradient
  embedding.prepare_call(ids.shape(), ids_ctx);
  const Tensor& flat_ids = embedding.checked_ids(ids);
  const int64_t B = ids.dim(0), L = ids.dim(1);
  prepare_call({B, L, embedding.output_dim()}, ctx);
  check_length(L);
  const int64_t Lout = output_length(L);
  distinct_rows_ = Tensor();
  const Param* kernel = params()[0];
  const Param* bias = options_.use_bias ? params()[1] : nullptr;
  const Windows windows{kernel_size_, options_.strides, options_.dilation_rate, pad_left(L, Lout)};
  const Tensor& table = embedding.params()[0]->value;
  // Inference: every row's projection, made once per set of weights (when it and the weights' copies fit in
  // kMaxTableFloats), then a gather per call. It is made at once when the table has at most twice the batch's
  // positions (then it costs little more than this call's own projection), else on the second call with the
  // same weights; so a model of a small vocabulary gives the same bits on every inference call.
  constexpr int64_t kMaxTableFloats = int64_t(1) << 24;
  const int64_t input_dim = embedding.input_dim();
  if (!ctx.keep_for_backward &&
      input_dim * (kernel_size_ * filters_ + embedding.output_dim()) + kernel->value.size() <= kMaxTableFloats) {
    const bool same_weights = !table_snapshot_.empty() && backend().equal(table_snapshot_, table) &&
                              backend().equal(kernel_snapshot_, kernel->value);
    if (!same_weights) {
      table_projection_ = Tensor();
      table_snapshot_ = table;
      kernel_snapshot_ = kernel->value;
    }
    if (same_weights || input_dim <= 2 * B * L) {
      if (table_projection_.empty()) {
        Tensor projection = Tensor::uninitialized({input_dim, kernel_size_ * filters_});
        backend().embedding_project(projection, table, kernel->value);
        table_projection_ = std::move(projection);  // only once complete: an exception leaves none
      }
      Tensor z = Tensor::uninitialized({B, Lout, filters_});
      backend().gather_conv1d_forward(z, table_projection_, flat_ids.reshaped({B, L}), bias ? &bias->value : nullptr,
                                      windows);
      x_ = Tensor();
      fused_table_ = nullptr;
      return activate(std::move(z), false);
    }
  }
  const int64_t distinct = find_distinct_ids(embedding, flat_ids, B, L, unique_, slots_, seen_);
  // Fused: a GEMM of distinct rows and a gather (forward), the same again twice (backward), against a GEMM of
  // every output position. A margin for the gathers.
  if (distinct * 4 > B * Lout * 3) return forward(embedding.lookup(ids.shape()), ctx);
  auto [distinct_ids, rows] = distinct_rows(embedding, unique_, distinct);
  distinct_ids_ = std::move(distinct_ids);
  Tensor projected = Tensor::uninitialized({distinct, kernel_size_ * filters_});
  backend().embedding_project(projected, rows, kernel->value);
  Tensor z = Tensor::uninitialized({B, Lout, filters_});
  backend().gather_conv1d_forward(z, projected, slots_, bias ? &bias->value : nullptr, windows);
  x_ = Tensor();
  if (ctx.keep_for_backward) distinct_rows_ = std::move(rows);
  fused_table_ = embedding.params()[0];
  return activate(std::move(z), ctx.keep_for_backward);
}

Tensor Conv1D::backward_from_logits(const Tensor& dz) {
  Param* kernel = params()[0];
  Param* bias = options_.use_bias ? params()[1] : nullptr;
  if (fused_table_) {
    if (!kept_for_backward_) fail("backward without a forward that kept its logits (keep_for_backward)");
    const int64_t distinct = distinct_rows_.dim(0);
    Tensor dprojected = Tensor::uninitialized({distinct, kernel_size_ * filters_});
    backend().gather_conv1d_backward(dprojected, bias ? &bias->grad : nullptr, dz, slots_,
                                     {kernel_size_, options_.strides, options_.dilation_rate,
                                      pad_left(slots_.dim(1), dz.dim(1))});
    if (!input_grad_wanted()) {
      backend().embedding_project_backward(nullptr, kernel->grad, dprojected, distinct_rows_, kernel->value);
      return Tensor();
    }
    Tensor drows = Tensor::uninitialized(distinct_rows_.shape());
    backend().embedding_project_backward(&drows, kernel->grad, dprojected, distinct_rows_, kernel->value);
    backend().embedding_backward(fused_table_->grad, drows, distinct_ids_);
    return Tensor();  // the gradient went into the embedding's table
  }
  if (x_.empty()) fail("backward without a forward that kept its input (keep_for_backward)");
  // conv1d_backward writes (or zero-fills) every row of dx
  const bool want_dx = input_grad_wanted();
  Tensor dx = want_dx ? Tensor::uninitialized(x_.shape()) : Tensor();
  backend().conv1d_backward(want_dx ? &dx : nullptr, kernel->grad, bias ? &bias->grad : nullptr, dz, x_, kernel->value,
                            {kernel_size_, options_.strides, options_.dilation_rate, pad_left(x_.dim(1), dz.dim(1))});
  return dx;
}

Json Conv1D::get_config() const {
  Json c = Layer::get_config();
  c["filters"] = filters_;
  c["kernel_size"] = Json::array({kernel_size_});
  c["strides"] = Json::array({options_.strides});
  c["padding"] = options_.padding;
  c["data_format"] = "channels_last";
  c["dilation_rate"] = Json::array({options_.dilation_rate});
  c["groups"] = 1;
  c["activation"] = activation_name(activation_);
  c["use_bias"] = options_.use_bias;
  c["kernel_initializer"] = config::initializer_to_json(options_.kernel_initializer);
  c["bias_initializer"] = config::initializer_to_json(options_.bias_initializer);
  c["kernel_regularizer"] = nullptr;
  c["bias_regularizer"] = nullptr;
  c["activity_regularizer"] = nullptr;
  c["kernel_constraint"] = nullptr;
  c["bias_constraint"] = nullptr;
  return c;
}

namespace config {

void reject_channels_first(const Json& c, const char* class_name) {
  const std::string fmt_name = get(c, "data_format", std::string("channels_last"));
  if (fmt_name != "channels_last")
    throw Error(fmt::format("layer '{}' ({}): data_format '{}' is not supported; seqnet is channels_last only",
                            c.value("name", std::string("?")), class_name, fmt_name));
}

LayerPtr conv1d_from_config(const Json& c) {
  const std::string name = c.value("name", std::string("?"));
  reject_if_set(c, "kernel_regularizer", "regularizers are not implemented");
  reject_if_set(c, "bias_regularizer", "regularizers are not implemented");
  reject_if_set(c, "activity_regularizer", "regularizers are not implemented");
  reject_if_set(c, "kernel_constraint", "constraints are not implemented");
  reject_if_set(c, "bias_constraint", "constraints are not implemented");
  reject_channels_first(c, "Conv1D");
  if (int64_t groups = get<int64_t>(c, "groups", 1); groups != 1)
    throw Error(fmt::format("layer '{}' (Conv1D): groups = {} is not supported (only groups = 1)", name, groups));
  if (!c.contains("filters") || !c.contains("kernel_size"))
    throw Error("Conv1D config needs filters and kernel_size: " + c.dump());
  Conv1DOptions o;
  o.strides = get_int_or_first(c, "strides", 1);
  o.padding = get(c, "padding", std::string("valid"));
  o.dilation_rate = get_int_or_first(c, "dilation_rate", 1);
  o.activation = activation_of(c);
  o.use_bias = get(c, "use_bias", true);
  if (c.contains("kernel_initializer")) o.kernel_initializer = initializer_from_json(c["kernel_initializer"]);
  if (c.contains("bias_initializer")) o.bias_initializer = initializer_from_json(c["bias_initializer"]);
  auto l = std::make_shared<Conv1D>(required_int(c, "filters"), get_int_or_first(c, "kernel_size", 1), o);
  apply_common(*l, c);
  return l;
}

}  // namespace config

}  // namespace seqnet
