// Losses: value and gradient with respect to y_pred (or to the logits on the fused path).
#include "seqnet/losses.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>

namespace seqnet {

namespace {
constexpr double kEpsilon = 1e-7;  // keras.backend.epsilon()

// y_true must hold one value per y_pred value (any shape with the same count: (n,) vs (n, 1) is fine).
void check_same_size(const std::string& loss, const Tensor& y_pred, const Tensor& y_true) {
  if (y_pred.size() != y_true.size() || y_pred.dim(0) != y_true.dim(0))
    throw Error(fmt::format("{}: y_true has shape {} but the model output has shape {}", loss, y_true.shape_string(),
                            y_pred.shape_string()));
}

Tensor grad_like(const Tensor& y_pred) { return Tensor(y_pred.shape()); }

class MeanAbsoluteErrorLoss : public Loss {
 public:
  std::string name() const override { return "mean_absolute_error"; }
  double compute(const Tensor& p, const Tensor& t, Tensor* grad) const override {
    check_same_size(name(), p, t);
    const int64_t n = p.size();
    double sum = 0;
    if (grad) *grad = grad_like(p);
    for (int64_t i = 0; i < n; ++i) {
      double e = double(p[i]) - double(t[i]);
      sum += std::fabs(e);
      if (grad) (*grad)[i] = float((e > 0) - (e < 0)) / float(n);
    }
    return sum / double(n);
  }
};

class MeanSquaredErrorLoss : public Loss {
 public:
  std::string name() const override { return "mean_squared_error"; }
  double compute(const Tensor& p, const Tensor& t, Tensor* grad) const override {
    check_same_size(name(), p, t);
    const int64_t n = p.size();
    double sum = 0;
    if (grad) *grad = grad_like(p);
    for (int64_t i = 0; i < n; ++i) {
      double e = double(p[i]) - double(t[i]);
      sum += e * e;
      if (grad) (*grad)[i] = float(2.0 * e / double(n));
    }
    return sum / double(n);
  }
};

class HuberLoss : public Loss {
 public:
  explicit HuberLoss(float delta) : delta_(delta) {}
  std::string name() const override { return "huber"; }
  double compute(const Tensor& p, const Tensor& t, Tensor* grad) const override {
    check_same_size(name(), p, t);
    const int64_t n = p.size();
    const double d = delta_;
    double sum = 0;
    if (grad) *grad = grad_like(p);
    for (int64_t i = 0; i < n; ++i) {
      double e = double(p[i]) - double(t[i]);
      double a = std::fabs(e);
      sum += a <= d ? 0.5 * e * e : d * (a - 0.5 * d);
      if (grad) (*grad)[i] = float((a <= d ? e : d * ((e > 0) - (e < 0))) / double(n));
    }
    return sum / double(n);
  }

 private:
  float delta_;
};

class BinaryCrossentropyLoss : public Loss {
 public:
  explicit BinaryCrossentropyLoss(CrossentropyOptions o) : o_(o) {}
  std::string name() const override { return "binary_crossentropy"; }
  bool fuses_with(Activation act) const override { return !o_.from_logits && act == Activation::sigmoid; }
  bool expects_probabilities() const override { return !o_.from_logits; }
  double target(double t) const { return t * (1.0 - o_.label_smoothing) + 0.5 * o_.label_smoothing; }

  double compute(const Tensor& p, const Tensor& t, Tensor* grad) const override {
    if (o_.from_logits) return logits_path(p, t, grad);
    check_same_size(name(), p, t);
    const int64_t n = p.size();
    double sum = 0;
    if (grad) *grad = grad_like(p);
    for (int64_t i = 0; i < n; ++i) {
      double y = target(t[i]);
      // The clip happens in float32, as in Keras: 1 - (1 - 1e-7f) is 1.19e-7, not 1e-7.
      const float lo = float(kEpsilon), hi = 1.0f - float(kEpsilon);
      float raw = p[i];
      double q = std::clamp(raw, lo, hi), one_minus_q = 1.0f - std::clamp(raw, lo, hi);
      sum += -(y * std::log(q) + (1.0 - y) * std::log(one_minus_q));
      // The clip passes no gradient outside [eps, 1 - eps], as in TensorFlow.
      if (grad) (*grad)[i] = (raw > lo && raw < hi) ? float((-(y / q) + (1.0 - y) / one_minus_q) / double(n)) : 0.0f;
    }
    return sum / double(n);
  }
  double compute_from_logits(const Tensor& z, const Tensor& t, Tensor* grad) const override { return logits_path(z, t, grad); }

 private:
  double logits_path(const Tensor& z, const Tensor& t, Tensor* grad) const {
    check_same_size(name(), z, t);
    const int64_t n = z.size();
    double sum = 0;
    if (grad) *grad = grad_like(z);
    for (int64_t i = 0; i < n; ++i) {
      double x = z[i], y = target(t[i]);
      sum += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x)));
      if (grad) (*grad)[i] = float((1.0 / (1.0 + std::exp(-x)) - y) / double(n));
    }
    return sum / double(n);
  }
  CrossentropyOptions o_;
};

// Shared by the categorical losses: rows of `classes` values.
struct Rows {
  int64_t rows, classes;
};
Rows rows_of(const Tensor& p) {
  int64_t c = p.rank() ? p.dim(-1) : 1;
  return {p.size() / c, c};
}

double softmax_xent_rows(const Tensor& z, const std::vector<double>& targets, Rows r, Tensor* grad) {
  // targets: rows x classes (dense). loss = sum(t) * logsumexp(z) - sum(t * z)
  double sum = 0;
  if (grad) *grad = Tensor(z.shape());
  for (int64_t i = 0; i < r.rows; ++i) {
    const float* zi = z.data() + i * r.classes;
    const double* ti = targets.data() + i * r.classes;
    double m = *std::max_element(zi, zi + r.classes);
    double s = 0;
    for (int64_t j = 0; j < r.classes; ++j) s += std::exp(zi[j] - m);
    double lse = m + std::log(s), tsum = 0, tz = 0;
    for (int64_t j = 0; j < r.classes; ++j) tsum += ti[j], tz += ti[j] * zi[j];
    sum += tsum * lse - tz;
    if (grad)
      for (int64_t j = 0; j < r.classes; ++j)
        grad->data()[i * r.classes + j] = float((tsum * std::exp(zi[j] - lse) - ti[j]) / double(r.rows));
  }
  return sum / double(r.rows);
}

double prob_xent_rows(const Tensor& p, const std::vector<double>& targets, Rows r, Tensor* grad) {
  // Keras (TF backend): q = p / sum(p); clip q to [eps, 1 - eps]; loss = -sum(t log q).
  double sum = 0;
  if (grad) *grad = Tensor(p.shape());
  std::vector<double> g(size_t(r.classes));
  for (int64_t i = 0; i < r.rows; ++i) {
    const float* pi = p.data() + i * r.classes;
    const double* ti = targets.data() + i * r.classes;
    double s = 0;
    for (int64_t j = 0; j < r.classes; ++j) s += pi[j];
    double gp = 0;
    for (int64_t j = 0; j < r.classes; ++j) {
      double q = pi[j] / s;
      double qc = std::clamp(q, kEpsilon, 1.0 - kEpsilon);
      sum += -ti[j] * std::log(qc);
      g[size_t(j)] = (q > kEpsilon && q < 1.0 - kEpsilon) ? -ti[j] / qc : 0.0;
      gp += g[size_t(j)] * pi[j];
    }
    if (grad)
      for (int64_t j = 0; j < r.classes; ++j)
        grad->data()[i * r.classes + j] = float((g[size_t(j)] / s - gp / (s * s)) / double(r.rows));
  }
  return sum / double(r.rows);
}

// The two categorical losses differ only in how y_true becomes a (rows, classes) target matrix.
class CategoricalLossBase : public Loss {
 public:
  explicit CategoricalLossBase(CrossentropyOptions o) : o_(o) {}
  bool fuses_with(Activation act) const override { return !o_.from_logits && act == Activation::softmax; }
  bool expects_probabilities() const override { return !o_.from_logits; }
  double compute(const Tensor& p, const Tensor& t, Tensor* grad) const override {
    if (o_.from_logits) return softmax_xent_rows(p, targets(p, t), rows_of(p), grad);
    return prob_xent_rows(p, targets(p, t), rows_of(p), grad);
  }
  double compute_from_logits(const Tensor& z, const Tensor& t, Tensor* grad) const override {
    return softmax_xent_rows(z, targets(z, t), rows_of(z), grad);
  }

 protected:
  virtual std::vector<double> targets(const Tensor& p, const Tensor& t) const = 0;
  CrossentropyOptions o_;
};

class CategoricalCrossentropyLoss : public CategoricalLossBase {
 public:
  using CategoricalLossBase::CategoricalLossBase;
  std::string name() const override { return "categorical_crossentropy"; }

 protected:
  std::vector<double> targets(const Tensor& p, const Tensor& t) const override {
    check_same_size(name(), p, t);
    Rows r = rows_of(p);
    std::vector<double> out(size_t(t.size()));
    for (int64_t i = 0; i < t.size(); ++i)
      out[size_t(i)] = t[i] * (1.0 - o_.label_smoothing) + o_.label_smoothing / double(r.classes);
    return out;
  }
};

class SparseCategoricalCrossentropyLoss : public CategoricalLossBase {
 public:
  using CategoricalLossBase::CategoricalLossBase;
  std::string name() const override { return "sparse_categorical_crossentropy"; }

 protected:
  std::vector<double> targets(const Tensor& p, const Tensor& t) const override {
    Rows r = rows_of(p);
    if (t.size() != r.rows)
      throw Error(fmt::format("{}: y_true must hold one class index per sample ({} values), got shape {} for output {}",
                              name(), r.rows, t.shape_string(), p.shape_string()));
    std::vector<double> out(size_t(r.rows * r.classes), 0.0);
    for (int64_t i = 0; i < r.rows; ++i) {
      double label = t[i];
      if (label != std::floor(label) || label < 0 || label >= double(r.classes))
        throw Error(fmt::format("{}: label {} of sample {} is not a class index in [0, {})", name(), label, i, r.classes));
      out[size_t(i * r.classes + int64_t(label))] = 1.0;
    }
    return out;
  }
};
}  // namespace

double Loss::compute_from_logits(const Tensor&, const Tensor&, Tensor*) const {
  throw Error(name() + " has no logits path");
}

namespace losses {
LossPtr MeanAbsoluteError() { return std::make_shared<MeanAbsoluteErrorLoss>(); }
LossPtr MeanSquaredError() { return std::make_shared<MeanSquaredErrorLoss>(); }
LossPtr BinaryCrossentropy(CrossentropyOptions o) { return std::make_shared<BinaryCrossentropyLoss>(o); }
LossPtr CategoricalCrossentropy(CrossentropyOptions o) { return std::make_shared<CategoricalCrossentropyLoss>(o); }
LossPtr SparseCategoricalCrossentropy(CrossentropyOptions o) {
  return std::make_shared<SparseCategoricalCrossentropyLoss>(o);
}
LossPtr Huber(float delta) { return std::make_shared<HuberLoss>(delta); }

LossPtr get(const std::string& n) {
  if (n == "mae" || n == "mean_absolute_error" || n == "MeanAbsoluteError") return MeanAbsoluteError();
  if (n == "mse" || n == "mean_squared_error" || n == "MeanSquaredError") return MeanSquaredError();
  if (n == "binary_crossentropy" || n == "BinaryCrossentropy") return BinaryCrossentropy();
  if (n == "categorical_crossentropy" || n == "CategoricalCrossentropy") return CategoricalCrossentropy();
  if (n == "sparse_categorical_crossentropy" || n == "SparseCategoricalCrossentropy")
    return SparseCategoricalCrossentropy();
  if (n == "huber" || n == "huber_loss" || n == "Huber") return Huber();
  throw Error("unknown loss '" + n +
              "' (known: mae, mse, binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy, "
              "huber)");
}

LossPtr from_config(const Json& j) {
  if (j.is_string()) return get(j.get<std::string>());
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string())
    throw Error("a loss must be a name or {\"class_name\": ..., \"config\": {...}}, got " + j.dump());
  const std::string cls = j["class_name"].get<std::string>();
  if (cls == "function" && j.contains("config") && j["config"].is_string()) return get(j["config"].get<std::string>());
  const Json c = j.contains("config") && j["config"].is_object() ? j["config"] : Json::object();
  // Keys Keras writes that change nothing here (with the values for which that holds); any other is refused.
  for (const auto& [key, v] : c.items()) {
    bool fine = key == "name" || key == "dtype" || key == "from_logits" || key == "label_smoothing" ||
                (key == "delta" && cls == "Huber") || (key == "reduction" && (v == "sum_over_batch_size" || v == "auto")) ||
                (key == "axis" && (v == -1 || v.is_null())) || (key == "ignore_class" && v.is_null()) ||
                (key == "fn" && v.is_string());
    if (!fine) throw Error(fmt::format("loss {}: argument '{}' = {} is not supported", cls, key, v.dump()));
  }
  auto number = [&](const char* key, float fallback) {
    if (!c.contains(key) || c[key].is_null()) return fallback;
    if (!c[key].is_number()) throw Error(fmt::format("loss {}: '{}' must be a number, got {}", cls, key, c[key].dump()));
    return c[key].get<float>();
  };
  CrossentropyOptions o;
  if (c.contains("from_logits") && !c["from_logits"].is_null()) {
    if (!c["from_logits"].is_boolean()) throw Error(fmt::format("loss {}: 'from_logits' must be true or false", cls));
    o.from_logits = c["from_logits"].get<bool>();
  }
  o.label_smoothing = number("label_smoothing", 0.0f);
  const bool crossentropy = cls == "BinaryCrossentropy" || cls == "CategoricalCrossentropy";
  if ((o.from_logits && !crossentropy && cls != "SparseCategoricalCrossentropy") ||
      (o.label_smoothing != 0.0f && !crossentropy))
    throw Error(fmt::format("loss {} takes no from_logits or label_smoothing", cls));
  if (cls == "BinaryCrossentropy") return BinaryCrossentropy(o);
  if (cls == "CategoricalCrossentropy") return CategoricalCrossentropy(o);
  if (cls == "SparseCategoricalCrossentropy") return SparseCategoricalCrossentropy(o);
  if (cls == "Huber") return Huber(number("delta", 1.0f));
  return get(cls);
}

}  // namespace losses

}  // namespace seqnet
