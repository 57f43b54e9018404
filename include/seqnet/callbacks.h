// Callbacks: the hooks of the fit loop, with Keras's names and order.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace seqnet {

class Model;

// Ordered name -> value pairs ("loss", "acc", "val_loss", ...), in the order Keras prints them.
class Logs {
 public:
  void set(const std::string& key, double value);
  std::optional<double> get(const std::string& key) const;
  bool contains(const std::string& key) const { return get(key).has_value(); }
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }
  void clear() { items_.clear(); }

 private:
  std::vector<std::pair<std::string, double>> items_;
};

class Callback {
 public:
  virtual ~Callback() = default;
  void set_model(Model* model) { model_ = model; }
  Model* model() const { return model_; }
  virtual void on_train_begin(Logs&) {}
  virtual void on_train_end(Logs&) {}
  virtual void on_epoch_begin(int epoch, Logs&) {}   // epoch counts from 0, as in Keras
  virtual void on_epoch_end(int epoch, Logs&) {}
  virtual void on_train_batch_begin(int batch, Logs&) {}
  virtual void on_train_batch_end(int batch, Logs&) {}

 private:
  Model* model_ = nullptr;
};

using CallbackPtr = std::shared_ptr<Callback>;

// What fit() returns: one value per epoch for every logged key.
struct History {
  std::vector<int> epoch;
  std::vector<std::pair<std::string, std::vector<double>>> history;
  const std::vector<double>& operator[](const std::string& key) const;
  bool contains(const std::string& key) const;
  void append(int epoch_index, const Logs& logs);
};

}  // namespace seqnet
