// Keras model files: .keras (Keras 3: a zip of config.json, metadata.json, model.weights.h5),
// legacy HDF5 .h5 (Keras 2 / tf.keras: model_config + model_weights), and .weights.h5.
#include "seqnet/console.h"
#include "seqnet/saving.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/stat.h>
#include <type_traits>
#include <unistd.h>
#include <zip.h>

#include "io/config_values.h"
#include "io/hdf5_file.h"
#include "io/hex_bytes.h"
#include "io/json_numbers.h"
#include "io/zip_archive.h"
#include "seqnet/layers/recurrent.h"
#include "seqnet/seqnet.h"
#include "seqnet/serialization.h"

namespace seqnet {

namespace {
constexpr const char* kKerasVersion = "3.15.1";  // the Keras 3 release whose layout these files follow
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

// ---------------- files ----------------

std::string read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

namespace {

// Writes all of `bytes` to fd; false with errno set on failure (a full disk: ENOSPC, a file size limit: EFBIG).
bool write_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += size_t(n);
  }
  return true;
}

// A device, a pipe or a terminal (/dev/stdout, /dev/null, a FIFO) cannot be replaced by a rename: it is
// written in place, every write checked.
void write_in_place(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  if (!write_all(fd, bytes)) {
    int e = errno;
    ::close(fd);
    throw Error(fmt::format("writing '{}' failed: {}", path, std::strerror(e)));
  }
  if (::close(fd) != 0) throw Error(fmt::format("writing '{}' failed at close: {}", path, std::strerror(errno)));
}

// Temporary files that a killed save left next to `target` (".NAME.tmp-XXXXXX", mkstemp's six characters).
void remove_stale_temporaries(const std::filesystem::path& dir, const std::string& name) {
  namespace fs = std::filesystem;
  const std::string prefix = "." + name + ".tmp-";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string f = it->path().filename().string();
    if (f.size() == prefix.size() + 6 && f.compare(0, prefix.size(), prefix) == 0 && it->is_regular_file(ec))
      fs::remove(it->path(), ec);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) throw Error(fmt::format("cannot write '{}': it is a directory", path));
    write_in_place(path, bytes);
    return;
  }
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  remove_stale_temporaries(dir, target.filename().string());
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  int fd = mkstemp(tmpl.data());
  if (fd < 0) throw Error(fmt::format("cannot create a temporary file next to '{}': {}", path, std::strerror(errno)));
  auto fail = [&](const char* what) {
    int e = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    throw Error(fmt::format("saving '{}': {} failed: {}", path, what, std::strerror(e)));
  };
  if (!write_all(fd, bytes)) fail("write");
  ::fchmod(fd, 0644);
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    ::unlink(tmpl.c_str());
    throw Error(fmt::format("saving '{}': close failed: {}", path, std::strerror(errno)));
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmpl.c_str());
    throw Error(fmt::format("saving '{}': rename failed: {}", path, std::strerror(e)));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {  // makes the rename itself durable
    ::fsync(dfd);
    ::close(dfd);
  }
}

// ---------------- zip ----------------

std::string zip_bytes(const std::vector<std::pair<std::string, std::string>>& files, bool deflate) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &err);
  if (!src) throw Error(std::string("cannot create a zip buffer: ") + zip_error_strerror(&err));
  zip_t* za = zip_open_from_source(src, ZIP_TRUNCATE, &err);
  if (!za) {
    zip_source_free(src);
    throw Error(std::string("cannot create a zip archive: ") + zip_error_strerror(&err));
  }
  zip_source_keep(src);
  for (const auto& [name, data] : files) {
    zip_source_t* s = zip_source_buffer(za, data.data(), data.size(), 0);
    zip_int64_t idx = s ? zip_file_add(za, name.c_str(), s, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0 || zip_set_file_compression(za, zip_uint64_t(idx), deflate ? ZIP_CM_DEFAULT : ZIP_CM_STORE, 0) < 0) {
      if (s && idx < 0) zip_source_free(s);
      std::string msg = zip_strerror(za);
      zip_discard(za);
      zip_source_free(src);
      throw Error("cannot add '" + name + "' to a zip archive: " + msg);
    }
  }
  if (zip_close(za) < 0) {
    std::string msg = zip_strerror(za);
    zip_discard(za);
    zip_source_free(src);
    throw Error("cannot write a zip archive: " + msg);
  }
  std::string out;
  if (zip_source_open(src) < 0) {
    zip_source_free(src);
    throw Error("cannot read back a zip archive");
  }
  zip_source_seek(src, 0, SEEK_END);
  zip_int64_t n = zip_source_tell(src);
  zip_source_seek(src, 0, SEEK_SET);
  out.resize(size_t(std::max<zip_int64_t>(n, 0)));
  zip_int64_t got = n > 0 ? zip_source_read(src, out.data(), zip_uint64_t(n)) : 0;
  zip_source_close(src);
  zip_source_free(src);
  if (got != n) throw Error("cannot read back a zip archive");
  return out;
}


namespace {

// The named entries of a zip held in memory; a missing entry is an error naming it.
class ZipReader {
 public:
  ZipReader(const std::string& bytes, std::string what) : what_(std::move(what)) {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
    if (!src) throw Error(what_ + ": " + zip_error_strerror(&err));
    za_ = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!za_) {
      std::string msg = zip_error_strerror(&err);
      zip_source_free(src);
      zip_error_fini(&err);
      throw Error(fmt::format("{} is not a valid .keras (zip) archive, it may be truncated or damaged: {}", what_, msg));
    }
  }
  ~ZipReader() {
    if (za_) zip_discard(za_);
  }
  bool has(const std::string& name) const { return zip_name_locate(za_, name.c_str(), 0) >= 0; }
  std::string read(const std::string& name) const {
    zip_int64_t idx = zip_name_locate(za_, name.c_str(), 0);
    if (idx < 0) throw Error(fmt::format("{} has no '{}' (not a Keras 3 .keras file?)", what_, name));
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za_, zip_uint64_t(idx), 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE))
      throw Error(fmt::format("{}: cannot read the entry '{}'", what_, name));
    constexpr zip_uint64_t kMax = zip_uint64_t(1) << 31;
    if (st.size > kMax) throw Error(fmt::format("{}: the entry '{}' claims {} bytes, too large", what_, name, st.size));
    zip_file_t* f = zip_fopen_index(za_, zip_uint64_t(idx), 0);
    if (!f) throw Error(fmt::format("{}: cannot open the entry '{}': {}", what_, name, zip_strerror(za_)));
    std::string out(size_t(st.size), '\0');
    zip_uint64_t done = 0;
    bool ok = true;
    while (done < st.size) {
      zip_int64_t n = zip_fread(f, out.data() + done, st.size - done);
      if (n <= 0) {
        ok = false;
        break;
      }
      done += zip_uint64_t(n);
    }
    char extra;
    if (ok && zip_fread(f, &extra, 1) != 0) ok = false;  // reaching the end checks the CRC
    std::string msg = ok ? "" : zip_file_strerror(f);
    zip_fclose(f);
    if (!ok) throw Error(fmt::format("{}: the entry '{}' is damaged: {}", what_, name, msg));
    return out;
  }

 private:
  std::string what_;
  zip_t* za_ = nullptr;
};

bool looks_like_zip(const std::string& bytes) { return bytes.size() >= 4 && bytes.compare(0, 4, "PK\x03\x04") == 0; }

// ---------------- Keras 3 weight layout ----------------

// keras.src.utils.naming.to_snake_case
std::string to_snake_case(const std::string& name) {
  std::string s;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') s += c;
  auto is_upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto is_lower = [](char c) { return c >= 'a' && c <= 'z'; };
  // (.)([A-Z][a-z]+) -> \1_\2
  std::string a;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && is_upper(s[i]) && i + 1 < s.size() && is_lower(s[i + 1])) a += '_';
    a += s[i];
  }
  // ([a-z])([A-Z]) -> \1_\2
  std::string b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (i > 0 && is_lower(a[i - 1]) && is_upper(a[i])) b += '_';
    b += a[i];
  }
  for (char& c : b) c = char(std::tolower(static_cast<unsigned char>(c)));
  return b;
}

// Where a layer's weights live in model.weights.h5: one group of vars/<i> per sublayer that owns
// weights (an RNN's cell, a Bidirectional's two layers, a TimeDistributed's inner layer).
struct VarGroup {
  std::string path;       // ".../vars"
  std::string name_attr;  // Keras writes the owner's name as the group's "name" attribute
  size_t count;           // how many of the layer's params, in order
};

struct LayerSlot {
  LayerPtr layer;
  std::string base;  // "layers/dense_1"
};
std::vector<LayerSlot> keras3_layer_paths(const Model& model, bool functional);

void var_groups(Layer& layer, const std::string& base, std::vector<VarGroup>& out, std::vector<VarGroup>& empty) {
  if (auto* nested = dynamic_cast<NestedModel*>(&layer)) {
    // A model inside a model: its own layers/ tree under its path (and input layers when functional).
    const Model& inner = *nested->model();
    const bool functional = inner.class_name() != "Sequential";
    empty.push_back({base + "/vars", layer.name(), 0});
    for (size_t i = 0; functional && i < inner.num_inputs(); ++i) {
      const std::string n = i == 0 ? "input_layer" : "input_layer_" + std::to_string(i);
      empty.push_back({base + "/layers/" + n + "/vars", n, 0});
    }
    for (auto& slot : keras3_layer_paths(inner, functional)) var_groups(*slot.layer, base + "/" + slot.base, out, empty);
  } else if (auto* rnn = dynamic_cast<RNN*>(&layer)) {
    empty.push_back({base + "/vars", layer.name(), 0});
    out.push_back({base + "/cell/vars", to_snake_case(layer.class_name()) + "_cell", rnn->params().size()});
  } else if (auto* bi = dynamic_cast<Bidirectional*>(&layer)) {
    empty.push_back({base + "/vars", layer.name(), 0});
    var_groups(bi->forward_layer(), base + "/forward_layer", out, empty);
    var_groups(bi->backward_layer(), base + "/backward_layer", out, empty);
  } else if (auto* td = dynamic_cast<TimeDistributed*>(&layer)) {
    empty.push_back({base + "/vars", layer.name(), 0});
    var_groups(td->layer(), base + "/layer", out, empty);
  } else {
    out.push_back({base + "/vars", layer.name(), layer.params().size()});
  }
}


// The top-level layers with their Keras 3 paths: the snake-case class name, "_1", "_2" for repeats.
std::vector<LayerSlot> keras3_layer_paths(const Model& model, bool functional) {
  std::map<std::string, int> used;
  std::vector<LayerSlot> out;
  if (functional) used["input_layer"] = int(model.num_inputs()) - 1;  // "input_layer", "input_layer_1", ...
  for (const auto& l : model.layers()) {
    std::string n = to_snake_case(l->class_name());
    auto it = used.find(n);
    if (it == used.end()) used[n] = 0;
    else n += "_" + std::to_string(++it->second);
    out.push_back({l, "layers/" + n});
  }
  return out;
}

// A weight as Keras stores its variable: seqnet computes in float32, Keras keeps some counters as int32.
Tensor as_saved(const Param& p) {
  if (p.saved_dtype != DType::int32 || !p.value.is_float()) return p.value;
  std::vector<int32_t> ints(size_t(p.value.size()));
  for (int64_t i = 0; i < p.value.size(); ++i) ints[size_t(i)] = int32_t(std::lround(p.value[i]));
  return Tensor(p.value.shape(), std::move(ints));
}

std::string names_of(const std::vector<Param*>& ps, size_t from, size_t count) {
  std::string s;
  for (size_t i = from; i < from + count && i < ps.size(); ++i) s += (s.empty() ? "" : ", ") + ps[i]->name;
  return s;
}

void write_keras3_layers(Model& model, h5::Group& root) {
  bool functional = model.class_name() != "Sequential";
  root.create("layers");
  for (size_t i = 0; functional && i < model.num_inputs(); ++i) {
    const std::string name = i == 0 ? "input_layer" : "input_layer_" + std::to_string(i);
    root.create("layers/" + name + "/vars").set_attr("name", name);
  }
  for (auto& [layer, base] : keras3_layer_paths(model, functional)) {
    std::vector<VarGroup> groups, empty;
    var_groups(*layer, base, groups, empty);
    for (auto& g : empty) root.require(g.path).set_attr("name", g.name_attr);
    auto ps = layer->params();
    size_t k = 0;
    for (auto& g : groups) {
      h5::Group vars = root.require(g.path);
      vars.set_attr("name", g.name_attr);
      for (size_t i = 0; i < g.count; ++i, ++k) vars.write(std::to_string(i), as_saved(*ps[k]));
    }
  }
  root.create("vars").set_attr("name", model.name());
}

void read_keras3_layers(Model& model, const h5::Group& root, const std::string& what) {
  if (!root.has_group("layers")) throw Error(what + " has no 'layers' group: not a Keras 3 weights file");
  bool functional = model.class_name() != "Sequential";
  for (auto& [layer, base] : keras3_layer_paths(model, functional)) {
    std::vector<VarGroup> groups, empty;
    var_groups(*layer, base, groups, empty);
    auto ps = layer->params();
    size_t k = 0;
    for (auto& g : groups) {
      if (g.count == 0) continue;
      if (!root.has_group(g.path))
        throw Error(fmt::format("{}: {} has no weights in the file (expected {} at '{}': {})", what, layer->where(),
                                g.count, g.path, names_of(ps, k, g.count)));
      h5::Group vars = root.open(g.path);
      size_t in_file = 0;
      while (vars.has_dataset(std::to_string(in_file))) ++in_file;
      if (in_file != g.count)
        throw Error(fmt::format("{}: {} expects {} weights ({}) at '{}', the file holds {}", what, layer->where(), g.count,
                                names_of(ps, k, g.count), g.path, in_file));
      for (size_t i = 0; i < g.count; ++i, ++k) {
        Shape s = vars.dataset_shape(std::to_string(i));
        if (s != ps[k]->value.shape())
          throw Error(fmt::format("{}: {} weight '{}' has shape {} in the file ('{}/{}') but {} in the model config", what,
                                  layer->where(), ps[k]->name, shape_to_string(s), g.path, i,
                                  shape_to_string(ps[k]->value.shape())));
      }
    }
    // Everything checked: now assign.
    k = 0;
    for (auto& g : groups) {
      if (g.count == 0) continue;
      h5::Group vars = root.open(g.path);
      for (size_t i = 0; i < g.count; ++i, ++k) ps[k]->value = vars.read(std::to_string(i));
    }
  }
}

// ---------------- optimizer state ----------------

// Keras's optimizer variable list after iteration and learning_rate: for each group, for each
// trainable variable, the group's slots in order (Adam interleaves momentum and velocity per variable;
// RMSprop lists all velocities, then momentums, then average gradients). Entries are seqnet slot indices.
std::vector<std::vector<int>> keras_slot_layout(const Optimizer& opt) {
  Json c = opt.get_config();
  const std::string& n = opt.name();
  if (n == "SGD") return c.value("momentum", 0.0) != 0.0 ? std::vector<std::vector<int>>{{0}} : std::vector<std::vector<int>>{};
  if (n == "RMSprop") {
    std::vector<std::vector<int>> g = {{0}};
    if (c.value("momentum", 0.0) > 0.0) g.push_back({2});
    if (c.value("centered", false)) g.push_back({1});
    return g;
  }
  if (n == "Adam" || n == "AdamW") {
    std::vector<std::vector<int>> g = {{0, 1}};
    if (c.value("amsgrad", false)) g.push_back({2});
    return g;
  }
  if (n == "Adagrad") return {{0}};
  throw Error("saving the state of optimizer '" + n + "' is not supported");
}

float slot_init(const Optimizer& opt) {
  return opt.name() == "Adagrad" ? opt.get_config().value("initial_accumulator_value", 0.1f) : 0.0f;
}

void write_optimizer(Model& model, h5::Group& root) {
  Optimizer& opt = *model.optimizer();
  h5::Group vars = root.create("optimizer/vars");
  vars.set_attr("name", to_snake_case(opt.name()));
  vars.write_int_scalar("0", opt.iterations());
  vars.write_float_scalar("1", opt.learning_rate());
  int k = 2;
  auto params = model.trainable_params();
  for (const auto& group : keras_slot_layout(opt))
    for (Param* p : params)
      for (int s : group) {
        auto& slots = opt.slots(p);
        bool have = size_t(s) < slots.size() && slots[size_t(s)].same_shape(p->value);
        vars.write(std::to_string(k++), have ? slots[size_t(s)] : Tensor::full(p->value.shape(), slot_init(opt)));
      }
}

void read_optimizer(Model& model, const h5::Group& root, const std::string& what) {
  if (!model.compiled() || !root.has_group("optimizer/vars")) return;
  h5::Group vars = root.open("optimizer/vars");
  Optimizer& opt = *model.optimizer();
  size_t n = 0;
  while (vars.has_dataset(std::to_string(n))) ++n;
  auto layout = keras_slot_layout(opt);
  auto params = model.trainable_params();
  size_t per_param = 0;
  for (auto& g : layout) per_param += g.size();
  size_t expected = 2 + per_param * params.size();
  if (n >= 2) {
    opt.set_iterations(int64_t(vars.read_scalar("0")));
    opt.set_learning_rate(float(vars.read_scalar("1")));
  }
  if (n == 2 || n == 0) return;  // saved before the optimizer was built
  if (n != expected) {
    console_err(fmt::format("seqnet: warning: {}: skipping variable loading for optimizer '{}', because it has {} "
                            "variables whereas the saved optimizer has {} variables.\n",
                            what, opt.name(), expected, n));
    return;
  }
  int max_slot = -1;
  for (auto& g : layout)
    for (int s : g) max_slot = std::max(max_slot, s);
  for (Param* p : params) {
    auto& slots = opt.slots(p);
    slots.clear();
    for (int s = 0; s <= max_slot; ++s) slots.push_back(Tensor::full(p->value.shape(), slot_init(opt)));
  }
  size_t k = 2;
  for (const auto& group : layout)
    for (Param* p : params)
      for (int s : group) {
        std::string name = std::to_string(k++);
        Tensor t = vars.read(name);
        if (t.shape() != p->value.shape())
          throw Error(fmt::format("{}: optimizer variable optimizer/vars/{} has shape {} but weight '{}' has shape {}", what,
                                  name, t.shape_string(), p->name, p->value.shape_string()));
        opt.slots(p)[size_t(s)] = std::move(t);
      }
}

// ---------------- compile config ----------------

Json optimizer_json(const Optimizer& opt) {
  return {{"module", "keras.optimizers"}, {"class_name", opt.name()}, {"config", opt.get_config()}, {"registered_name", nullptr}};
}

Json loss_json(const Loss& loss) {
  const std::string n = loss.name();
  bool xent = n.find("crossentropy") != std::string::npos;
  if (!xent || loss.expects_probabilities()) return n;
  std::string cls = n == "binary_crossentropy" ? "BinaryCrossentropy"
                    : n == "categorical_crossentropy" ? "CategoricalCrossentropy"
                                                      : "SparseCategoricalCrossentropy";
  return {{"module", "keras.losses"},
          {"class_name", cls},
          {"config", {{"name", n}, {"reduction", "sum_over_batch_size"}, {"from_logits", true}}},
          {"registered_name", nullptr}};
}

Json compile_config(const Model& model) {
  if (!model.compiled()) return nullptr;
  Json metrics = nullptr;
  Json loss = loss_json(*model.loss()), weights = nullptr;
  const size_t n_out = model.losses().size();
  if (n_out > 1) {  // several outputs: a list of each, in the order of the outputs
    loss = Json::array();
    for (const auto& l : model.losses()) loss.push_back(loss_json(*l));
    bool all_one = true;
    for (double w : model.loss_weights()) all_one = all_one && w == 1.0;
    if (!all_one) weights = model.loss_weights();
  }
  if (!model.metrics().empty()) {
    metrics = Json::array();
    if (n_out > 1)
      for (size_t i = 0; i < n_out; ++i) metrics.push_back(Json::array());
    for (size_t k = 0; k < model.metrics().size(); ++k) {
      if (n_out > 1) metrics[model.metric_output(k)].push_back(model.metrics()[k]->name());
      else metrics.push_back(model.metrics()[k]->name());
    }
  }
  return {{"optimizer", optimizer_json(*model.optimizer())},
          {"loss", loss},
          {"loss_weights", weights},
          {"metrics", metrics},
          {"weighted_metrics", nullptr},
          {"run_eagerly", false},
          {"steps_per_execution", 1},
          {"jit_compile", false}};
}

std::optional<float> opt_float(const Json& c, const char* key) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw Error(fmt::format("optimizer config key '{}' must be a number, got {}", key, it->dump()));
  return it->get<float>();
}

OptimizerPtr optimizer_from_json(const Json& j) {
  if (j.is_string()) return optimizers::get(j.get<std::string>());
  std::string cls = j.at("class_name").get<std::string>();
  const Json& c = j.contains("config") ? j["config"] : Json::object();
  if (c.contains("learning_rate") && c["learning_rate"].is_object())
    throw Error("optimizer " + cls + ": learning-rate schedules in the config are not supported");
  float lr_default = cls == "SGD" ? 0.01f : 0.001f;
  float lr = opt_float(c, "learning_rate").value_or(opt_float(c, "lr").value_or(lr_default));
  ClipOptions clip{opt_float(c, "clipnorm"), opt_float(c, "clipvalue"), opt_float(c, "global_clipnorm")};
  auto getf = [&](const char* k, float d) { return opt_float(c, k).value_or(d); };
  auto getb = [&](const char* k, bool d) { return c.contains(k) && c[k].is_boolean() ? c[k].get<bool>() : d; };
  if (cls == "SGD") return optimizers::SGD({lr, getf("momentum", 0.0f), getb("nesterov", false), clip});
  if (cls == "RMSprop")
    return optimizers::RMSprop({lr, getf("rho", 0.9f), getf("momentum", 0.0f), getf("epsilon", 1e-7f), getb("centered", false), clip});
  if (cls == "Adam")
    return optimizers::Adam({lr, getf("beta_1", 0.9f), getf("beta_2", 0.999f), getf("epsilon", 1e-7f), getb("amsgrad", false), clip});
  if (cls == "AdamW")
    return optimizers::AdamW({lr, getf("weight_decay", 0.004f), getf("beta_1", 0.9f), getf("beta_2", 0.999f),
                              getf("epsilon", 1e-7f), getb("amsgrad", false), clip});
  if (cls == "Adagrad")
    return optimizers::Adagrad({lr, getf("initial_accumulator_value", 0.1f), getf("epsilon", 1e-7f), clip});
  throw Error("unsupported optimizer class '" + cls + "' in the compile config");
}

LossPtr loss_from_json(const Json& j) { return losses::from_config(j); }

std::vector<std::string> metrics_from_json(const Json& j) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) throw Error("unsupported metrics in the compile config: " + j.dump());
  for (const Json& m : j) {
    if (m.is_string()) out.push_back(m.get<std::string>());
    else if (m.is_array()) {
      for (const Json& mm : m)
        if (mm.is_string()) out.push_back(mm.get<std::string>());
    } else if (m.is_object() && m.contains("config") && m["config"].is_object() && m["config"].contains("name"))
      out.push_back(m["config"]["name"].get<std::string>());
    else if (m.is_object() && m.contains("class_name"))
      out.push_back(m["class_name"].get<std::string>());
  }
  return out;
}

// Compiles `model` from a Keras compile config (or a legacy training_config, whose optimizer sits in
// "optimizer_config"). A config seqnet cannot honour leaves the model uncompiled, with a warning.
void compile_from(Model& model, const Json& cc, const std::string& what) {
  if (cc.is_null() || !cc.is_object() || cc.empty()) return;
  try {
    const Json& opt = cc.contains("optimizer") ? cc["optimizer"] : cc.at("optimizer_config");
    if (!cc.contains("loss") || cc["loss"].is_null()) return;
    CompileOptions o;
    o.optimizer = OptimizerRef(optimizer_from_json(opt));
    const Json& loss = cc["loss"];
    const std::vector<std::string> outputs = model.built() ? model.output_names() : std::vector<std::string>{};
    auto per_output = [&](const Json& j, const char* key) {
      return config::entries_per_output(j, outputs, std::string("the compile config's ") + key);
    };
    if (outputs.size() > 1 && (loss.is_array() || (loss.is_object() && !loss.contains("class_name")))) {
      for (const Json& l : per_output(loss, "loss")) o.losses.push_back(LossRef(loss_from_json(l)));
    } else {
      o.loss = LossRef(loss_from_json(loss));
    }
    const Json weights = cc.value("loss_weights", Json());
    if (!weights.is_null())
      for (const Json& w : per_output(weights, "loss_weights")) o.loss_weights.push_back(w.get<double>());
    const Json metrics = cc.value("metrics", Json());
    if (outputs.size() > 1 && !metrics.is_null()) {
      for (const Json& m : per_output(metrics, "metrics")) o.metrics_per_output.push_back(metrics_from_json(m.is_array() ? m : Json::array({m})));
    } else {
      o.metrics = metrics_from_json(metrics);
    }
    model.compile(std::move(o));
  } catch (const std::exception& e) {
    console_err(fmt::format("seqnet: warning: {}: the model is left uncompiled: {}\n", what, e.what()));
  }
}

// ---------------- metadata: what seqnet adds for resuming ----------------

static_assert(std::is_trivially_copyable_v<Rng>, "the generator state is saved as its bytes");

std::string rng_hex(const Rng& rng) { return bytes_to_hex(&rng, sizeof(Rng)); }

void rng_from_hex(Rng& rng, const std::string& s) {
  hex_to_bytes(s, static_cast<void*>(&rng), sizeof(Rng));  // written by another build: keep the current generator
}

std::string now_string() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d@%H:%M:%S", &tm);
  return buf;
}

Json seqnet_metadata(Model& model) {
  return {{"version", version()}, {"epochs_completed", model.epochs_completed}, {"rng", rng_hex(model.rng())}, {"shuffle_rng", rng_hex(model.shuffle_rng())}};
}

void apply_seqnet_metadata(Model& model, const Json& meta) {
  if (!meta.is_object() || !meta.contains("seqnet") || !meta["seqnet"].is_object()) return;
  const Json& s = meta["seqnet"];
  if (s.contains("epochs_completed"))
    model.epochs_completed = whole_number_at<int>(s["epochs_completed"], "the file's seqnet.epochs_completed");
  if (s.contains("rng") && s["rng"].is_string()) rng_from_hex(model.rng(), s["rng"].get<std::string>());
  if (s.contains("shuffle_rng") && s["shuffle_rng"].is_string())
    rng_from_hex(model.shuffle_rng(), s["shuffle_rng"].get<std::string>());
}

// ---------------- legacy HDF5 (Keras 2 / tf.keras) ----------------

// "<layer>/<sublayer>/<weight>" names, as Keras writes weight_names.
std::vector<std::string> legacy_weight_names(Layer& layer) {
  std::vector<std::string> out;
  if (auto* nested = dynamic_cast<NestedModel*>(&layer)) {
    // Keras names a nested functional model's weights by its layers alone, a nested Sequential's with its name first.
    const bool sequential = nested->model()->class_name() == "Sequential";
    for (const auto& l : nested->model()->layers())
      for (const auto& n : legacy_weight_names(*l)) out.push_back(sequential ? layer.name() + "/" + n : n);
    return out;
  }
  auto add = [&](Layer& owner, const std::string& prefix) {
    for (Param* p : owner.params()) out.push_back(prefix + "/" + p->name);
  };
  if (auto* rnn = dynamic_cast<RNN*>(&layer)) {
    add(*rnn, layer.name() + "/" + to_snake_case(layer.class_name()) + "_cell");
  } else if (auto* bi = dynamic_cast<Bidirectional*>(&layer)) {
    add(bi->forward_layer(), layer.name() + "/" + bi->forward_layer().name() + "/" +
                                 to_snake_case(bi->forward_layer().class_name()) + "_cell");
    add(bi->backward_layer(), layer.name() + "/" + bi->backward_layer().name() + "/" +
                                  to_snake_case(bi->backward_layer().class_name()) + "_cell");
  } else if (auto* td = dynamic_cast<TimeDistributed*>(&layer)) {
    add(td->layer(), layer.name() + "/" + td->layer().name());
  } else {
    add(layer, layer.name());
  }
  return out;
}

void write_legacy_weights(Model& model, h5::Group& g) {
  std::vector<std::string> names;
  for (auto& l : model.layers()) names.push_back(l->name());
  g.set_attr("layer_names", names);
  g.set_attr("backend", "seqnet");
  g.set_attr("keras_version", kKerasVersion);
  for (auto& l : model.layers()) {
    h5::Group lg = g.create(l->name());
    auto wn = legacy_weight_names(*l);
    lg.set_attr("weight_names", wn);
    auto ps = l->params();
    for (size_t i = 0; i < ps.size(); ++i) lg.write(wn[i], as_saved(*ps[i]));
  }
}

void read_legacy_weights(Model& model, const h5::Group& g, const std::string& what) {
  struct FileLayer {
    std::string name;
    std::vector<std::string> weight_names;
  };
  std::vector<FileLayer> file_layers;
  for (const auto& name : g.attr_strings("layer_names")) {
    if (!g.has_group(name)) throw Error(fmt::format("{}: layer '{}' is listed in layer_names but has no group", what, name));
    h5::Group lg = g.open(name);
    auto wn = lg.attr_strings("weight_names");
    if (!wn.empty()) file_layers.push_back({name, wn});
  }
  std::vector<LayerPtr> with_weights;
  for (auto& l : model.layers())
    if (!l->params().empty()) with_weights.push_back(l);
  bool by_name = true;
  for (auto& fl : file_layers) {
    bool found = false;
    for (auto& l : with_weights) found |= l->name() == fl.name;
    by_name &= found;
  }
  if (!by_name && file_layers.size() != with_weights.size())
    throw Error(fmt::format("{}: the file holds weights for {} layers but the model has {} layers with weights", what,
                            file_layers.size(), with_weights.size()));
  std::vector<std::pair<LayerPtr, const FileLayer*>> pairs;
  for (size_t i = 0; i < file_layers.size(); ++i) {
    LayerPtr l;
    if (by_name) {
      for (auto& c : with_weights)
        if (c->name() == file_layers[i].name) l = c;
    } else {
      l = with_weights[i];
    }
    pairs.emplace_back(l, &file_layers[i]);
  }
  if (by_name)
    for (auto& l : with_weights) {
      bool found = false;
      for (auto& fl : file_layers) found |= fl.name == l->name();
      if (!found) throw Error(fmt::format("{}: {} has no weights in the file", what, l->where()));
    }
  std::vector<std::pair<Param*, Tensor>> values;
  for (auto& [l, fl] : pairs) {
    auto ps = l->params();
    h5::Group lg = g.open(fl->name);
    if (fl->weight_names.size() != ps.size())
      throw Error(fmt::format("{}: {} expects {} weights ({}), the file's layer '{}' holds {}", what, l->where(), ps.size(),
                              names_of(ps, 0, ps.size()), fl->name, fl->weight_names.size()));
    for (size_t i = 0; i < ps.size(); ++i) {
      const std::string& wn = fl->weight_names[i];
      if (!lg.has_dataset(wn))
        throw Error(fmt::format("{}: {} weight '{}' ('{}') is missing from the file", what, l->where(), ps[i]->name, wn));
      Shape s = lg.dataset_shape(wn);
      if (s != ps[i]->value.shape())
        throw Error(fmt::format("{}: {} weight '{}' has shape {} in the file ('{}') but {} in the model config", what,
                                l->where(), ps[i]->name, shape_to_string(s), wn, shape_to_string(ps[i]->value.shape())));
      values.emplace_back(ps[i], lg.read(wn));
    }
  }
  for (auto& [p, t] : values) p->value = std::move(t);
}

std::string model_config_without_compile(const Model& model) {
  Json j = Json::parse(model.to_json());
  j.erase("compile_config");
  return j.dump();
}

std::string model_to_legacy_h5_bytes(Model& model) {
  h5::File f = h5::File::create();
  h5::Group root = f.root();
  root.set_attr("backend", "seqnet");
  root.set_attr("keras_version", kKerasVersion);
  root.set_attr("model_config", model_config_without_compile(model));
  if (model.compiled()) {
    Json cc = compile_config(model);
    Json tc = {{"loss", cc["loss"]}, {"metrics", cc["metrics"]}, {"loss_weights", nullptr}, {"weighted_metrics", nullptr},
               {"optimizer_config", {{"class_name", model.optimizer()->name()}, {"config", model.optimizer()->get_config()}}}};
    root.set_attr("training_config", tc.dump());
  }
  h5::Group mw = root.create("model_weights");
  write_legacy_weights(model, mw);
  return f.bytes();
}

std::string with_what(const std::string& what, const std::exception& e) {
  std::string m = e.what();
  return m.rfind(what, 0) == 0 ? m : what + ": " + m;
}

}  // namespace

// ---------------- public API ----------------

std::string model_to_keras_bytes(Model& model) {
  if (!model.built()) throw Error(fmt::format("model '{}' must be built before it is saved", model.name()));
  Json config = Json::parse(model.to_json());
  config["compile_config"] = compile_config(model);
  Json meta = {{"keras_version", kKerasVersion}, {"date_saved", now_string()}, {"seqnet", seqnet_metadata(model)}};
  h5::File f = h5::File::create();
  h5::Group root = f.root();
  write_keras3_layers(model, root);
  if (model.compiled()) write_optimizer(model, root);
  std::string weights = f.bytes();
  return zip_bytes({{"metadata.json", meta.dump()}, {"config.json", config.dump()}, {"model.weights.h5", weights}});
}

std::unique_ptr<Model> model_from_keras_bytes(const std::string& bytes, bool compile, const std::string& what) {
  try {
    ZipReader zip(bytes, what);
    std::string config_text = zip.read("config.json");
    Json config;
    try {
      config = Json::parse(config_text);
    } catch (const Json::exception& e) {
      throw Error(what + ": config.json is not valid JSON: " + e.what());
    }
    if (!config.is_object()) throw Error(what + ": config.json is not a JSON object");
    auto model = model_from_json(config_text);
    if (!model->built()) throw Error(what + ": the model config does not say its input shape; seqnet cannot build it");
    Json meta = Json::object();
    if (zip.has("metadata.json")) {
      try {
        meta = Json::parse(zip.read("metadata.json"));
      } catch (const Json::exception& e) {
        throw Error(what + ": metadata.json is not valid JSON: " + e.what());
      }
    }
    h5::File f = h5::File::open(zip.read("model.weights.h5"), what + ": model.weights.h5");
    h5::Group root = f.root();
    read_keras3_layers(*model, root, what + ": model.weights.h5");
    if (compile && config.contains("compile_config")) {
      compile_from(*model, config["compile_config"], what);
      read_optimizer(*model, root, what + ": model.weights.h5");
    }
    apply_seqnet_metadata(*model, meta);
    return model;
  } catch (const Error& e) {
    throw Error(with_what(what, e));
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": malformed Keras config: " + e.what());
  }
}

std::unique_ptr<Model> model_from_h5_bytes(const std::string& bytes, bool compile, const std::string& what) {
  try {
    h5::File f = h5::File::open(bytes, what);
    h5::Group root = f.root();
    auto cfg = root.attr_string("model_config");
    if (!cfg) throw Error(what + " has no model_config attribute: it holds weights only (use load_weights on a model)");
    std::string cfg_text = *cfg;
    if (auto version = root.attr_string("keras_version")) {
      // The file's Keras version tells model_from_json whether "hard_sigmoid" means Keras 2's 0.2x + 0.5.
      Json j = Json::parse(cfg_text);
      if (j.is_object() && !j.contains("keras_version")) {
        j["keras_version"] = *version;
        cfg_text = j.dump();
      }
    }
    auto model = model_from_json(cfg_text);
    if (!model->built()) throw Error(what + ": the model config does not say its input shape; seqnet cannot build it");
    if (root.has_group("model_weights")) read_legacy_weights(*model, root.open("model_weights"), what);
    else read_legacy_weights(*model, root, what);
    if (compile)
      if (auto tc = root.attr_string("training_config")) {
        try {
          compile_from(*model, Json::parse(*tc), what);
        } catch (const Json::exception& e) {
          console_err(fmt::format("seqnet: warning: {}: unreadable training_config, the model is left uncompiled: {}\n",
                                  what, e.what()));
        }
      }
    return model;
  } catch (const Error& e) {
    throw Error(with_what(what, e));
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": malformed Keras config: " + e.what());
  }
}

void save_model(Model& model, const std::string& path) {
  if (ends_with(path, ".keras")) return write_file_atomic(path, model_to_keras_bytes(model));
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) {
    if (!model.built()) throw Error(fmt::format("model '{}' must be built before it is saved", model.name()));
    return write_file_atomic(path, model_to_legacy_h5_bytes(model));
  }
  throw Error(fmt::format("Invalid filepath extension for saving '{}'. Please add either a `.keras` extension for the "
                          "native Keras format (recommended) or a `.h5` extension.",
                          path));
}

std::unique_ptr<Model> load_model(const std::string& path, bool compile) {
  std::string bytes = read_file_bytes(path);
  if (looks_like_zip(bytes)) return model_from_keras_bytes(bytes, compile, path);
  if (h5::looks_like_hdf5(bytes)) return model_from_h5_bytes(bytes, compile, path);
  throw Error(fmt::format("'{}' is neither a .keras (zip) nor an HDF5 model file ({} bytes)", path, bytes.size()));
}

void save_weights(Model& model, const std::string& path) {
  if (!ends_with(path, ".weights.h5"))
    throw Error(fmt::format("The filename must end in `.weights.h5`. Received: filepath={}", path));
  if (!model.built()) throw Error(fmt::format("model '{}' must be built before its weights are saved", model.name()));
  h5::File f = h5::File::create();
  h5::Group root = f.root();
  write_keras3_layers(model, root);
  if (model.compiled()) write_optimizer(model, root);
  write_file_atomic(path, f.bytes());
}

void load_weights(Model& model, const std::string& path) {
  if (!model.built()) throw Error(fmt::format("model '{}' must be built before weights are loaded into it", model.name()));
  std::string bytes = read_file_bytes(path);
  try {
    if (looks_like_zip(bytes)) {
      ZipReader zip(bytes, path);
      h5::File f = h5::File::open(zip.read("model.weights.h5"), path + ": model.weights.h5");
      read_keras3_layers(model, f.root(), path);
      return;
    }
    h5::File f = h5::File::open(bytes, path);
    h5::Group root = f.root();
    if (root.has_group("layers")) {
      read_keras3_layers(model, root, path);
      read_optimizer(model, root, path);
    } else if (root.has_group("model_weights")) {
      read_legacy_weights(model, root.open("model_weights"), path);
    } else if (root.has_attr("layer_names")) {
      read_legacy_weights(model, root, path);
    } else {
      throw Error(path + " holds no Keras weights (neither a 'layers' group nor layer_names)");
    }
  } catch (const Error& e) {
    throw Error(with_what(path, e));
  }
}

void Model::save(const std::string& path) { save_model(*this, path); }
void Model::save_weights(const std::string& path) { seqnet::save_weights(*this, path); }
void Model::load_weights(const std::string& path) { seqnet::load_weights(*this, path); }

std::vector<Tensor> Model::get_weights() const {
  std::vector<Tensor> out;
  for (const auto& l : layers())
    for (const Param* p : std::as_const(*l).params()) out.push_back(p->value);
  return out;
}

void Model::set_weights(const std::vector<Tensor>& weights) {
  std::vector<std::pair<Layer*, Param*>> ps;
  for (const auto& l : layers())
    for (Param* p : l->params()) ps.emplace_back(l.get(), p);
  if (ps.size() != weights.size())
    throw Error(fmt::format("set_weights: model '{}' has {} weights, got {}", name_, ps.size(), weights.size()));
  for (size_t i = 0; i < ps.size(); ++i)
    if (weights[i].shape() != ps[i].second->value.shape())
      throw Error(fmt::format("set_weights: {} weight '{}' has shape {}, the value given has shape {}", ps[i].first->where(),
                              ps[i].second->name, ps[i].second->value.shape_string(), weights[i].shape_string()));
  for (size_t i = 0; i < ps.size(); ++i) ps[i].second->value = weights[i];
}

}  // namespace seqnet
