#include "seqnet/layer.h"

#include <fmt/format.h>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

namespace seqnet {

namespace {
std::mutex g_names_mutex;
std::map<std::string, int>& name_counters() {
  static std::map<std::string, int> counters;
  return counters;
}
}  // namespace

std::string unique_layer_name(const std::string& base) {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  int& n = name_counters()[base];
  std::string name = n == 0 ? base : base + "_" + std::to_string(n);
  ++n;
  return name;
}

void clear_session() {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  name_counters().clear();
}

bool shape_compatible(const Shape& expected, const Shape& got) {
  if (expected.size() != got.size()) return false;
  for (size_t i = 0; i < expected.size(); ++i)
    if (expected[i] >= 0 && got[i] >= 0 && expected[i] != got[i]) return false;
  return true;
}

Layer::Layer(std::string name, std::string class_snake_name)
    : name_(name.empty() ? unique_layer_name(class_snake_name) : std::move(name)) {}

Layer::~Layer() = default;

void Layer::fail(const std::string& what) const { throw Error(where() + ": " + what); }

Shape Layer::build(const Shape& input_shape, Rng& rng) {
  if (built_) {
    if (!shape_compatible(input_shape_, input_shape))
      fail(fmt::format("was built for input shape {} and is now called on {}", shape_to_string(input_shape_),
                       shape_to_string(input_shape)));
    return output_shape_;
  }
  input_shape_ = input_shape;
  output_shape_ = build_impl(input_shape, rng);
  built_ = true;
  return output_shape_;
}

Tensor Layer::call(const Tensor& x, RunContext& ctx) {
  if (!built_) fail("called before it was built");
  if (!shape_compatible(input_shape_, x.shape()))
    fail(fmt::format("expected input shape {}, got {}", shape_to_string(input_shape_), x.shape_string()));
  input_grad_wanted_ = ctx.input_grad;
  return forward(x, ctx);
}

std::optional<Tensor> Layer::compute_mask(const Tensor&, const Tensor* input_mask) const {
  if (!input_mask) return std::nullopt;
  return *input_mask;
}

Param& Layer::add_weight(std::string weight_name, Shape shape, const Initializer& init, Rng& rng, bool trainable) {
  auto p = std::make_unique<Param>();
  p->name = std::move(weight_name);
  p->value = initialize(init, shape, rng);
  p->grad = Tensor(shape);
  p->trainable = trainable;
  params_.push_back(std::move(p));
  return *params_.back();
}

void Layer::collect_params(std::vector<Param*>& out) {
  for (auto& p : params_) out.push_back(p.get());
}

std::vector<Param*> Layer::params() {
  std::vector<Param*> out;
  collect_params(out);
  return out;
}

std::vector<const Param*> Layer::params() const {
  // collect_params only reads the layer (its contract), so calling it on a const layer is safe.
  std::vector<Param*> ps;
  const_cast<Layer*>(this)->collect_params(ps);
  return std::vector<const Param*>(ps.begin(), ps.end());
}

Param* Layer::find_param(const std::string& weight_name) {
  for (Param* p : params())
    if (p->name == weight_name) return p;
  return nullptr;
}

int64_t Layer::count_params() const {
  int64_t n = 0;
  for (const Param* p : params()) n += p->value.size();
  return n;
}

int64_t Layer::count_trainable_params() const {
  if (!trainable_) return 0;
  int64_t n = 0;
  for (const Param* p : params())
    if (p->trainable) n += p->value.size();
  return n;
}

void Layer::set_trainable(bool t) { trainable_ = t; }

Json Layer::get_config() const {
  Json c;
  c["name"] = name_;
  c["trainable"] = trainable_;
  c["dtype"] = "float32";
  return c;
}

}  // namespace seqnet
