#include "fixtures.h"

#include <fstream>
#include <functional>

#include <unistd.h>

namespace seqnet::testing {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::filesystem::path temp_dir(const std::string& tag) {
  const auto p = std::filesystem::temp_directory_path() / ("seqnet_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

nlohmann::json load_fixture(const std::string& name) {
  std::string path = std::string(SEQNET_FIXTURE_DIR) + "/" + name;
  std::ifstream f(path);
  if (!f) throw Error("missing test fixture " + path + " (regenerate it with the script beside it)");
  return nlohmann::json::parse(f);
}

namespace {
void flatten_into(const nlohmann::json& j, std::vector<float>& out) {
  if (j.is_array())
    for (const auto& e : j) flatten_into(e, out);
  else
    out.push_back(j.get<float>());
}
Shape infer_shape(const nlohmann::json& j) {
  Shape s;
  const nlohmann::json* cur = &j;
  while (cur->is_array()) {
    s.push_back(int64_t(cur->size()));
    if (cur->empty()) break;
    cur = &(*cur)[0];
  }
  return s;
}
}  // namespace

Tensor tensor_from_json(const nlohmann::json& values, const Shape& shape) {
  std::vector<float> flat;
  flatten_into(values, flat);
  return Tensor(shape, std::move(flat));
}

Tensor tensor_from_json(const nlohmann::json& values) { return tensor_from_json(values, infer_shape(values)); }

}  // namespace seqnet::testing
