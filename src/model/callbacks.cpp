#include "seqnet/callbacks.h"

#include "seqnet/tensor.h"

namespace seqnet {

void Logs::set(const std::string& key, double value) {
  for (auto& kv : items_)
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  items_.emplace_back(key, value);
}

std::optional<double> Logs::get(const std::string& key) const {
  for (const auto& kv : items_)
    if (kv.first == key) return kv.second;
  return std::nullopt;
}

const std::vector<double>& History::operator[](const std::string& key) const {
  for (const auto& kv : history)
    if (kv.first == key) return kv.second;
  throw Error("history has no key '" + key + "'");
}

bool History::contains(const std::string& key) const {
  for (const auto& kv : history)
    if (kv.first == key) return true;
  return false;
}

void History::append(int epoch_index, const Logs& logs) {
  epoch.push_back(epoch_index);
  for (const auto& [k, v] : logs.items()) {
    bool found = false;
    for (auto& kv : history)
      if (kv.first == k) {
        kv.second.push_back(v);
        found = true;
      }
    if (!found) history.emplace_back(k, std::vector<double>{v});
  }
}

}  // namespace seqnet
