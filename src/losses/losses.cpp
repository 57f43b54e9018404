// Losses: value and gradient with respect to y_pred (or to the logits on the fused path).
#include "seqnet/losses.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>

#include "backend/backend.h"

namespace seqnet {

namespace {
// y_true must hold one value per y_pred value (any shape with the same count: (n,) vs (n, 1) is fine).
void check_same_size(const std::string& loss, const Tensor& y_pred, const Tensor& y_true) {
  if (y_pred.size() != y_true.size() || y_pred.dim(0) != y_true.dim(0))
    throw Error(fmt::format("{}: y_true has shape {} but the model output has shape {}", loss, y_true.shape_string(),
                            y_pred.shape_string()));
}

// The mean over all values of one of the backend's pointwise terms, and its gradient.
double pointwise_mean(PointwiseLoss kind, const Tensor& p, const Tensor& t, float param, Tensor* grad) {
  const double sum = backend().pointwise_loss_forward(kind, p, t, param);
  if (grad) {
    *grad = Tensor::uninitialized(p.shape());
    backend().pointwise_loss_backward(kind, *grad, p, t, param);
  }
  return sum / double(p.size());
}

class MeanAbsoluteErrorLoss : public Loss {
 public:
  std::string name() const override { return "mean_absolute_error"; }
  double compute(const Tensor& p, const Tensor& t, Tensor* grad) const override {
    check_same_size(name(), p, t);
    return pointwise_mean(PointwiseLoss::absolute_error, p, t, 0.0f, grad);
  }
};

class MeanSquaredErrorLoss : public Loss {
 public:
  std::string name() const override { return "mean_squared_error"; }
  double compute(const Tensor& p, const Tensor& t, Tensor* grad) const override {
    check_same_size(name(), p, t);
    return pointwise_mean(PointwiseLoss::squared_error, p, t, 0.0f, grad);
  }
};

class HuberLoss : public Loss {
 public:
  explicit HuberLoss(float delta) : delta_(delta) {}
  std::string name() const override { return "huber"; }
  double compute(const Tensor& p, const Tensor& t, Tensor* grad) const override {
    check_same_size(name(), p, t);
    return pointwise_mean(PointwiseLoss::huber, p, t, delta_, grad);
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
  double compute(const Tensor& p, const Tensor& t, Tensor* grad) const override {
    check_same_size(name(), p, t);
    return pointwise_mean(o_.from_logits ? PointwiseLoss::binary_crossentropy_logits : PointwiseLoss::binary_crossentropy,
                          p, t, o_.label_smoothing, grad);
  }
  double compute_from_logits(const Tensor& z, const Tensor& t, Tensor* grad) const override {
    check_same_size(name(), z, t);
    return pointwise_mean(PointwiseLoss::binary_crossentropy_logits, z, t, o_.label_smoothing, grad);
  }

 private:
  CrossentropyOptions o_;
};

// The categorical losses: rows of the last axis's `classes` values; the sparse one reads class indices.
class CategoricalLossBase : public Loss {
 public:
  CategoricalLossBase(CrossentropyOptions o, bool sparse) : o_(o), sparse_(sparse) {}
  bool fuses_with(Activation act) const override { return !o_.from_logits && act == Activation::softmax; }
  bool expects_probabilities() const override { return !o_.from_logits; }
  double compute(const Tensor& p, const Tensor& t, Tensor* grad) const override {
    return rows_loss(p, t, o_.from_logits, grad);
  }
  double compute_from_logits(const Tensor& z, const Tensor& t, Tensor* grad) const override {
    return rows_loss(z, t, true, grad);
  }

 private:
  double rows_loss(const Tensor& p, const Tensor& t, bool from_logits, Tensor* grad) const {
    const int64_t classes = p.rank() ? p.dim(-1) : 1, rows = p.size() / classes;
    if (!sparse_) {
      check_same_size(name(), p, t);
    } else {
      if (t.size() != rows)
        throw Error(fmt::format("{}: y_true must hold one class index per sample ({} values), got shape {} for output {}",
                                name(), rows, t.shape_string(), p.shape_string()));
      const InvalidLabel bad = backend().first_invalid_label(t, classes);
      if (bad.row >= 0)
        throw Error(fmt::format("{}: label {} of sample {} is not a class index in [0, {})", name(), bad.label, bad.row,
                                classes));
    }
    const CrossentropyRows how{from_logits, sparse_, sparse_ ? 0.0f : o_.label_smoothing};
    const double loss = backend().crossentropy_forward(p, t, classes, how);
    if (grad) {
      *grad = Tensor::uninitialized(p.shape());
      backend().crossentropy_backward(*grad, p, t, classes, how);
    }
    return loss;
  }

  CrossentropyOptions o_;
  bool sparse_;
};

class CategoricalCrossentropyLoss : public CategoricalLossBase {
 public:
  explicit CategoricalCrossentropyLoss(CrossentropyOptions o) : CategoricalLossBase(o, false) {}
  std::string name() const override { return "categorical_crossentropy"; }
};

class SparseCategoricalCrossentropyLoss : public CategoricalLossBase {
 public:
  explicit SparseCategoricalCrossentropyLoss(CrossentropyOptions o) : CategoricalLossBase(o, true) {}
  std::string name() const override { return "sparse_categorical_crossentropy"; }
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
