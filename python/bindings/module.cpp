// seqnet._core: the C++ library as seen from Python. Thin by design: the Keras namespace (python/seqnet/keras)
// turns Keras's arguments into the configs and options below; every check and every number stays in C++.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <thread>

#include <seqnet/seqnet.h>

namespace nb = nanobind;
using namespace seqnet;

namespace {

// ---- arrays: NumPy in (one copy into the tensor that owns its memory), NumPy out (no copy) ----

using InArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

Tensor to_tensor(const InArray& a, const char* what) {
  Shape shape;
  for (size_t i = 0; i < a.ndim(); ++i) shape.push_back(int64_t(a.shape(i)));
  if (a.dtype() == nb::dtype<float>()) {
    Tensor t = Tensor::uninitialized(shape);
    if (t.size()) std::memcpy(t.data(), a.data(), size_t(t.size()) * sizeof(float));
    return t;
  }
  if (a.dtype() == nb::dtype<int32_t>()) {
    Tensor t(shape, DType::int32);
    if (t.size()) std::memcpy(t.idata(), a.data(), size_t(t.size()) * sizeof(int32_t));
    return t;
  }
  throw Error(std::string(what) + ": seqnet takes float32 or int32 arrays (the Python layer converts others)");
}

std::vector<Tensor> to_tensors(const std::vector<InArray>& arrays, const char* what) {
  std::vector<Tensor> out;
  out.reserve(arrays.size());
  for (const auto& a : arrays) out.push_back(to_tensor(a, what));
  return out;
}

nb::object to_numpy(Tensor t) {
  auto* owner = new Tensor(std::move(t));
  nb::capsule deleter(owner, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  std::vector<size_t> shape(owner->shape().begin(), owner->shape().end());
  if (owner->is_float())
    return nb::ndarray<nb::numpy, float>(owner->data(), shape.size(), shape.data(), deleter).cast();
  return nb::ndarray<nb::numpy, int32_t>(owner->idata(), shape.size(), shape.data(), deleter).cast();
}

nb::list to_numpy_list(std::vector<Tensor> ts) {
  nb::list out;
  for (auto& t : ts) out.append(to_numpy(std::move(t)));
  return out;
}

Json parse_json(const std::string& text, const char* what) {
  try {
    return Json::parse(text);
  } catch (const std::exception& e) {
    throw Error(std::string(what) + ": not JSON: " + e.what());
  }
}

nb::dict logs_to_dict(const Logs& logs) {
  nb::dict d;
  for (const auto& [k, v] : logs.items()) d[nb::str(k.c_str())] = v;
  return d;
}

// ---- Python's side of the fit loop ----

// A Python keras.callbacks.Callback: each hook the Python class overrides is called with Keras's logs dict, and
// what the hook puts into the dict comes back into the logs (and so into the history).
class PythonCallback : public Callback {
 public:
  enum Hook : unsigned {
    kTrainBegin = 1, kTrainEnd = 2, kEpochBegin = 4, kEpochEnd = 8, kBatchBegin = 16, kBatchEnd = 32,
  };
  PythonCallback(nb::object callback, unsigned hooks) : callback_(std::move(callback)), hooks_(hooks) {}
  ~PythonCallback() override {
    if (!nb::is_alive()) {  // the interpreter is gone: leak the reference, never touch Python
      callback_.release();
      return;
    }
    nb::gil_scoped_acquire gil;
    callback_.reset();
  }
  void on_train_begin(Logs& logs) override { call(kTrainBegin, "on_train_begin", nullptr, logs); }
  void on_train_end(Logs& logs) override { call(kTrainEnd, "on_train_end", nullptr, logs); }
  void on_epoch_begin(int epoch, Logs& logs) override { call(kEpochBegin, "on_epoch_begin", &epoch, logs); }
  void on_epoch_end(int epoch, Logs& logs) override { call(kEpochEnd, "on_epoch_end", &epoch, logs); }
  void on_train_batch_begin(int batch, Logs& logs) override { call(kBatchBegin, "on_train_batch_begin", &batch, logs); }
  void on_train_batch_end(int batch, Logs& logs) override { call(kBatchEnd, "on_train_batch_end", &batch, logs); }

 private:
  void call(Hook hook, const char* name, const int* index, Logs& logs) {
    if (!(hooks_ & hook)) return;
    nb::gil_scoped_acquire gil;
    nb::dict d = logs_to_dict(logs);
    if (index) callback_.attr(name)(*index, d);
    else callback_.attr(name)(d);
    for (auto [key, value] : d) {
      std::string k = nb::cast<std::string>(nb::str(key));
      if (nb::isinstance<nb::float_>(value) || nb::isinstance<nb::int_>(value) || nb::hasattr(value, "__float__"))
        logs.set(k, nb::cast<double>(nb::float_(value)));
    }
  }
  nb::object callback_;
  unsigned hooks_;
};

// Ctrl-C during fit: Python's signal handler only marks the signal; this checks it after each batch and raises
// KeyboardInterrupt there, so the model is left between two whole steps.
class InterruptCheck : public Callback {
 public:
  void on_train_batch_end(int, Logs&) override {
    nb::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw nb::python_error();
  }
};

// A Python generator or iterator of (x, y) batches: `next_batch` is a Python function returning the two arrays
// already converted to the model's dtypes.
class PythonBatchSource : public BatchSource {
 public:
  explicit PythonBatchSource(nb::object next_batch) : next_(std::move(next_batch)) {}
  ~PythonBatchSource() override {
    if (!nb::is_alive()) {
      next_.release();
      return;
    }
    nb::gil_scoped_acquire gil;
    next_.reset();
  }
  std::pair<Tensor, Tensor> next_batch() override {
    nb::gil_scoped_acquire gil;
    nb::tuple xy = nb::cast<nb::tuple>(next_());
    InArray x = nb::cast<InArray>(xy[0]), y = nb::cast<InArray>(xy[1]);
    return {to_tensor(x, "generator x"), to_tensor(y, "generator y")};
  }

 private:
  nb::object next_;
};

// ---- the console: the log into Python's sys.stdout (a terminal, a pipe, a notebook, pytest's capture) ----

nb::object* g_console_out = nullptr;  // kept for the life of the process: C++ may write at any time
nb::object* g_console_err = nullptr;
nb::object* g_console_interactive = nullptr;

void write_to(nb::object* target, std::string_view text) {
  if (!nb::is_alive()) return;
  nb::gil_scoped_acquire gil;
  (*target)(nb::str(text.data(), text.size()));
}

void install_console(nb::object out, nb::object err, nb::object interactive) {
  if (!g_console_out) {
    g_console_out = new nb::object();
    g_console_err = new nb::object();
    g_console_interactive = new nb::object();
  }
  *g_console_out = std::move(out);
  *g_console_err = std::move(err);
  *g_console_interactive = std::move(interactive);
  set_console({[](std::string_view s) { write_to(g_console_out, s); },
               [](std::string_view s) { write_to(g_console_err, s); },
               [] {
                 if (!nb::is_alive()) return false;
                 nb::gil_scoped_acquire gil;
                 return nb::cast<bool>((*g_console_interactive)());
               }});
}

// ---- one thread at a time per model ----

// The GIL is released while a model trains or predicts, so another Python thread could reach the same model
// meanwhile; its layers keep per-call state, so that is refused, by name, instead of corrupting it. The thread
// that holds the model may use it again (a callback predicting during fit).
class ModelUse {
 public:
  ModelUse(const Model& m, const char* what) : model_(&m) {
    std::lock_guard<std::mutex> lock(mutex());
    auto& [owner, depth] = table()[model_];
    if (depth > 0 && owner != std::this_thread::get_id())
      throw Error(fmt::format("model '{}': {} while another thread is using it (a model runs one call at a time)",
                              m.name(), what));
    owner = std::this_thread::get_id();
    ++depth;
  }
  ~ModelUse() {
    std::lock_guard<std::mutex> lock(mutex());
    auto it = table().find(model_);
    if (--it->second.second == 0) table().erase(it);
  }
  ModelUse(const ModelUse&) = delete;
  ModelUse& operator=(const ModelUse&) = delete;
  static bool busy(const Model& m) {
    std::lock_guard<std::mutex> lock(mutex());
    return table().count(&m) > 0;
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::map<const Model*, std::pair<std::thread::id, int>>& table() {
    static std::map<const Model*, std::pair<std::thread::id, int>> t;
    return t;
  }
  const Model* model_;
};

// A Sequential given no input shape is built from its first batch, as Keras builds it.
void build_from(Model& m, const std::vector<Tensor>& xs) {
  if (!m.built() && xs.size() == 1) ensure_built(m, xs[0]);
}

// ---- fit / evaluate ----

struct PyFitOptions {
  int64_t batch_size = 32;
  int epochs = 1;
  int verbose = 1;
  double validation_split = 0.0;
  bool shuffle = true;
  int initial_epoch = 0;
  int64_t steps_per_epoch = 0;
  int64_t validation_steps = 0;
};

FitOptions fit_options(const PyFitOptions& o, const std::vector<CallbackPtr>& callbacks) {
  FitOptions f;
  f.batch_size = o.batch_size;
  f.epochs = o.epochs;
  f.verbose = o.verbose;
  f.validation_split = o.validation_split;
  f.shuffle = o.shuffle;
  f.initial_epoch = o.initial_epoch;
  f.steps_per_epoch = o.steps_per_epoch;
  f.validation_steps = o.validation_steps;
  f.callbacks = callbacks;
  f.callbacks.push_back(std::make_shared<InterruptCheck>());
  return f;
}

nb::tuple history_to_python(const History& h) {
  nb::dict d;
  for (const auto& [k, values] : h.history) {
    nb::list l;
    for (double v : values) l.append(v);
    d[nb::str(k.c_str())] = l;
  }
  nb::list epochs;
  for (int e : h.epoch) epochs.append(e);
  return nb::make_tuple(epochs, d);
}

CompileOptions compile_options(const std::string& optimizer, const std::vector<std::string>& losses,
                               const std::vector<double>& loss_weights,
                               const std::vector<std::vector<std::string>>& metrics, bool per_output) {
  CompileOptions o;
  o.optimizer = OptimizerRef(optimizers::from_config(parse_json(optimizer, "compile: optimizer")));
  if (losses.size() == 1 && !per_output) o.loss = LossRef(losses::from_config(parse_json(losses[0], "compile: loss")));
  else
    for (const auto& l : losses) o.losses.push_back(LossRef(losses::from_config(parse_json(l, "compile: loss"))));
  o.loss_weights = loss_weights;
  if (per_output) o.metrics_per_output = metrics;
  else if (!metrics.empty()) o.metrics = metrics[0];
  return o;
}

std::shared_ptr<Model> shared(std::unique_ptr<Model> m) { return std::shared_ptr<Model>(std::move(m)); }

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "seqnet's C++ engine; use seqnet.keras";
  nb::exception<Error>(m, "SeqnetError", PyExc_ValueError);

  m.def("version", [] { return std::string(seqnet::version()); });
  m.def("kernel_variant", [] { return std::string(seqnet::kernel_variant()); });
  m.def("set_num_threads", &seqnet::set_num_threads);
  m.def("num_threads", &seqnet::num_threads);
  m.def("set_random_seed", [](uint64_t seed) { seqnet::set_random_seed(seed); });
  m.def("clear_session", &seqnet::clear_session);
  m.def("install_console", &install_console);

  // ---- layers and the graph ----
  nb::class_<Layer>(m, "Layer")
      .def_prop_ro("name", [](const Layer& l) { return l.name(); })
      .def_prop_ro("class_name", &Layer::class_name)
      .def("address", [](const Layer& l) { return reinterpret_cast<uintptr_t>(&l); })
      .def_prop_ro("built", &Layer::built)
      .def_prop_rw("trainable", &Layer::trainable, &Layer::set_trainable)
      .def("get_config", [](const Layer& l) { return l.get_config().dump(); })
      .def("count_params", &Layer::count_params)
      .def("input_shapes", [](const Layer& l) { return l.input_shapes(); })
      .def("output_shapes", [](const Layer& l) { return l.output_shapes(); })
      .def("weight_names", [](Layer& l) {
        std::vector<std::string> names;
        for (Param* p : l.params()) names.push_back(p->name);
        return names;
      })
      .def("get_weights", [](Layer& l) {
        std::vector<Tensor> out;
        for (Param* p : l.params()) out.push_back(p->value);
        return to_numpy_list(std::move(out));
      })
      .def("set_weights", [](Layer& l, const std::vector<InArray>& arrays) {
        std::vector<Param*> params = l.params();
        if (arrays.size() != params.size())
          throw Error(l.where() + ": set_weights expects " + std::to_string(params.size()) + " arrays, got " +
                      std::to_string(arrays.size()));
        std::vector<Tensor> ts = to_tensors(arrays, "set_weights");
        for (size_t i = 0; i < ts.size(); ++i)
          if (ts[i].shape() != params[i]->value.shape())
            throw Error(l.where() + ": weight '" + params[i]->name + "' has shape " + params[i]->value.shape_string() +
                        ", got " + ts[i].shape_string());
        for (size_t i = 0; i < ts.size(); ++i) params[i]->value = std::move(ts[i]);
      });
  m.def("reset_states", [](Layer& l) {
    if (auto* rnn = dynamic_cast<RNN*>(&l)) return rnn->reset_states();
    if (auto* bi = dynamic_cast<Bidirectional*>(&l)) {
      bi->forward_layer().reset_states();
      bi->backward_layer().reset_states();
      return;
    }
    throw Error(l.where() + ": reset_states is for recurrent layers");
  });
  m.def("make_layer", [](const std::string& cls, const std::string& config) {
    return layer_from_config(cls, parse_json(config, cls.c_str()));
  });

  nb::class_<SymbolicTensor>(m, "SymbolicTensor")
      .def_prop_ro("shape", [](const SymbolicTensor& t) { return t.shape(); })
      .def_prop_ro("dtype", [](const SymbolicTensor& t) { return std::string(dtype_name(t.dtype())); })
      .def_prop_ro("layer", [](const SymbolicTensor& t) { return t.node()->layer; })
      .def_prop_ro("input_name", [](const SymbolicTensor& t) { return t.node()->input_name; })
      .def_prop_ro("index", &SymbolicTensor::index)
      .def("same_as", [](const SymbolicTensor& a, const SymbolicTensor& b) {
        return a.node() == b.node() && a.index() == b.index();
      });
  m.def("input", [](const Shape& shape, const std::string& dtype, std::optional<int64_t> batch_size,
                    const std::string& name) {
    InputOptions o;
    if (dtype == "int32" || dtype == "int64" || dtype == "int") o.dtype = DType::int32;
    else if (dtype != "float32" && dtype != "float") throw Error("Input: dtype '" + dtype + "' is not supported (float32, int32)");
    o.batch_size = batch_size;
    o.name = name;
    return Input(shape, o);
  });
  m.def("call_layer", [](const LayerPtr& layer, const std::vector<SymbolicTensor>& xs, bool as_list,
                         const std::vector<SymbolicTensor>& initial_state) {
    CallOptions o{.initial_state = initial_state};
    if (as_list) return call_layer(layer, xs, o);
    if (xs.size() != 1) throw Error(layer->where() + ": called on " + std::to_string(xs.size()) + " tensors");
    return call_layer(layer, xs[0], o);
  });
  m.def("as_layer", [](const std::shared_ptr<Model>& model) { return as_layer(model); });

  // ---- models ----
  nb::class_<PyFitOptions>(m, "FitOptions")
      .def(nb::init<>())
      .def_rw("batch_size", &PyFitOptions::batch_size)
      .def_rw("epochs", &PyFitOptions::epochs)
      .def_rw("verbose", &PyFitOptions::verbose)
      .def_rw("validation_split", &PyFitOptions::validation_split)
      .def_rw("shuffle", &PyFitOptions::shuffle)
      .def_rw("initial_epoch", &PyFitOptions::initial_epoch)
      .def_rw("steps_per_epoch", &PyFitOptions::steps_per_epoch)
      .def_rw("validation_steps", &PyFitOptions::validation_steps);

  nb::class_<Callback>(m, "Callback");
  m.def("make_callback", [](const std::string& cls, const std::string& arguments) {
    return callback_from_config(cls, parse_json(arguments, cls.c_str()));
  });
  m.def("python_callback", [](nb::object callback, unsigned hooks) -> CallbackPtr {
    return std::make_shared<PythonCallback>(std::move(callback), hooks);
  });

  nb::class_<Model>(m, "Model")
      .def("__init__", [](Model* self, const std::vector<SymbolicTensor>& inputs,
                          const std::vector<SymbolicTensor>& outputs, const std::string& name) {
        new (self) Model(inputs, outputs, name);
      })
      .def_prop_ro("name", &Model::name)
      .def_prop_ro("class_name", &Model::class_name)
      .def_prop_ro("built", &Model::built)
      .def_prop_ro("compiled", &Model::compiled)
      .def_prop_rw("stop_training", [](const Model& m) { return m.stop_training; },
                   [](Model& m, bool v) { m.stop_training = v; })
      .def_prop_rw("epochs_completed", [](const Model& m) { return m.epochs_completed; },
                   [](Model& m, int v) { m.epochs_completed = v; })
      .def("layers", &Model::layers)
      .def("layers_with_inputs", &Model::layers_with_inputs)
      .def("get_layer", &Model::get_layer)
      .def("input_names", &Model::input_names)
      .def("output_names", &Model::output_names)
      .def("num_inputs", &Model::num_inputs)
      .def("num_outputs", &Model::num_outputs)
      .def("input_shape", [](const Model& m, size_t i) { return m.input_shape(i); })
      .def("output_shape", [](const Model& m, size_t i) { return m.output_shape(i); })
      .def("input_dtype", [](const Model& m, size_t i) { return std::string(dtype_name(m.input_dtype(i))); })
      .def("compile", [](Model& m, const std::string& optimizer, const std::vector<std::string>& losses,
                         const std::vector<double>& loss_weights, const std::vector<std::vector<std::string>>& metrics,
                         bool per_output) {
        if (ModelUse::busy(m))
          throw Error(fmt::format("model '{}': compile while it trains or predicts (from a callback?) is refused",
                                  m.name()));
        m.compile(compile_options(optimizer, losses, loss_weights, metrics, per_output));
      })
      .def("metric_names", [](const Model& m) {
        std::vector<std::string> names;
        for (const auto& metric : m.metrics()) names.push_back(metric->name());
        return names;
      })
      .def("metric_results", [](const Model& m) {
        std::vector<std::pair<std::string, double>> out;
        for (const auto& metric : m.metrics()) out.emplace_back(metric->name(), metric->result());
        return out;
      })
      .def("reset_metrics", [](Model& m) {
        for (const auto& metric : m.metrics()) metric->reset();
      })
      .def("optimizer_config", [](const Model& m) { return m.optimizer() ? m.optimizer()->get_config().dump() : ""; })
      .def("learning_rate", [](const Model& m) { return double(m.optimizer()->learning_rate()); })
      .def("set_learning_rate", [](Model& m, double lr) { m.optimizer()->set_learning_rate(float(lr)); })
      .def("fit", [](Model& m, const std::vector<InArray>& x, const std::vector<InArray>& y, const PyFitOptions& o,
                     const std::vector<CallbackPtr>& callbacks, const std::vector<InArray>& val_x,
                     const std::vector<InArray>& val_y) {
        ModelUse use(m, "fit");
        FitOptions f = fit_options(o, callbacks);
        Arrays data(to_tensors(x, "fit x"), to_tensors(y, "fit y"));
        build_from(m, data.x);
        if (!val_x.empty()) f.validation_data = Arrays(to_tensors(val_x, "validation x"), to_tensors(val_y, "validation y"));
        History h;
        {
          nb::gil_scoped_release release;
          h = m.fit(data, std::move(f));
        }
        return history_to_python(h);
      })
      .def("fit_generator", [](Model& m, nb::object next_batch, const PyFitOptions& o,
                               const std::vector<CallbackPtr>& callbacks, nb::object val_next_batch,
                               const std::vector<InArray>& val_x, const std::vector<InArray>& val_y) {
        ModelUse use(m, "fit");
        FitOptions f = fit_options(o, callbacks);
        PythonBatchSource train(std::move(next_batch));
        std::optional<PythonBatchSource> validation;
        if (!val_next_batch.is_none()) {
          validation.emplace(std::move(val_next_batch));
          f.validation_source = &*validation;
        } else if (!val_x.empty()) {
          f.validation_data = Arrays(to_tensors(val_x, "validation x"), to_tensors(val_y, "validation y"));
        }
        History h;
        {
          nb::gil_scoped_release release;
          h = m.fit(train, std::move(f));
        }
        return history_to_python(h);
      }, nb::arg("next_batch"), nb::arg("options"), nb::arg("callbacks"), nb::arg("val_next_batch").none(),
         nb::arg("val_x"), nb::arg("val_y"))
      .def("evaluate", [](Model& m, const std::vector<InArray>& x, const std::vector<InArray>& y, int64_t batch_size,
                          int verbose) {
        ModelUse use(m, "evaluate");
        Arrays data(to_tensors(x, "evaluate x"), to_tensors(y, "evaluate y"));
        build_from(m, data.x);
        Logs logs;
        {
          nb::gil_scoped_release release;
          logs = m.evaluate(data, {.batch_size = batch_size, .verbose = verbose});
        }
        return logs.items();
      })
      .def("evaluate_generator", [](Model& m, nb::object next_batch, int64_t steps) {
        ModelUse use(m, "evaluate");
        PythonBatchSource source(std::move(next_batch));
        Logs logs;
        {
          nb::gil_scoped_release release;
          logs = m.evaluate(source, steps);
        }
        return logs.items();
      })
      .def("predict", [](Model& m, const std::vector<InArray>& x, int64_t batch_size) {
        ModelUse use(m, "predict");
        std::vector<Tensor> xs = to_tensors(x, "predict x");
        build_from(m, xs);
        std::vector<Tensor> out;
        {
          nb::gil_scoped_release release;
          if (xs.size() == 1 && m.num_outputs() == 1) out.push_back(m.predict(xs[0], batch_size));
          else out = m.predict(xs, batch_size);
        }
        return to_numpy_list(std::move(out));
      })
      .def("train_on_batch", [](Model& m, const std::vector<InArray>& x, const std::vector<InArray>& y) {
        ModelUse use(m, "train_on_batch");
        Arrays data(to_tensors(x, "train_on_batch x"), to_tensors(y, "train_on_batch y"));
        nb::gil_scoped_release release;
        if (data.x.size() == 1 && data.y.size() == 1) return m.train_on_batch(data.x[0], data.y[0]);
        return m.train_on_batch(data);
      })
      .def("summary_string", &Model::summary_string)
      .def("to_json", &Model::to_json)
      .def("count_params", &Model::count_params)
      .def("count_trainable_params", &Model::count_trainable_params)
      .def("get_weights", [](const Model& m) { return to_numpy_list(m.get_weights()); })
      .def("set_weights", [](Model& m, const std::vector<InArray>& w) {
        ModelUse use(m, "set_weights");
        m.set_weights(to_tensors(w, "set_weights"));
      })
      .def("save", &Model::save)
      .def("save_weights", &Model::save_weights)
      .def("load_weights", &Model::load_weights)
      .def("set_seed", &Model::set_seed);

  nb::class_<Sequential, Model>(m, "Sequential")
      .def("__init__", [](Sequential* self, const std::string& name) { new (self) Sequential(name); })
      .def("add", [](Sequential& s, const LayerPtr& layer) { s.add(layer); })
      .def("add_input", [](Sequential& s, const SymbolicTensor& input) { s.add(input); })
      .def("build", [](Sequential& s, const Shape& shape, const std::string& dtype) {
        s.build(shape, dtype == "int32" ? DType::int32 : DType::float32);
      })
      .def("sequential_layers", &Sequential::sequential_layers);

  m.def("load_model", [](const std::string& path, bool compile) { return shared(load_model(path, compile)); });
  m.def("model_from_json", [](const std::string& text) { return shared(model_from_json(text)); });

  // ---- data sets and preprocessing ----
  m.def("imdb_load_data", [](std::optional<int64_t> num_words, int64_t skip_top, std::optional<int64_t> maxlen,
                             uint32_t seed, std::optional<int32_t> start_char, std::optional<int32_t> oov_char,
                             int32_t index_from, const std::string& path) {
    datasets::imdb::LoadOptions o;
    o.num_words = num_words, o.skip_top = skip_top, o.maxlen = maxlen, o.seed = seed;
    o.start_char = start_char, o.oov_char = oov_char, o.index_from = index_from, o.path = path;
    std::pair<datasets::imdb::Split, datasets::imdb::Split> split;
    {
      nb::gil_scoped_release release;
      split = datasets::imdb::load_data(o);
    }
    // Ragged reviews as one flat array and the offsets of each review in it.
    auto flat = [](const std::vector<std::vector<int32_t>>& reviews) {
      size_t total = 0;
      for (const auto& r : reviews) total += r.size();
      Tensor values({int64_t(total)}, DType::int32), offsets({int64_t(reviews.size()) + 1}, DType::int32);
      int32_t* v = values.idata();
      int32_t* o = offsets.idata();
      size_t at = 0;
      for (size_t i = 0; i < reviews.size(); ++i) {
        o[i] = int32_t(at);
        std::copy(reviews[i].begin(), reviews[i].end(), v + at);
        at += reviews[i].size();
      }
      o[reviews.size()] = int32_t(at);
      return nb::make_tuple(to_numpy(std::move(values)), to_numpy(std::move(offsets)));
    };
    return nb::make_tuple(flat(split.first.x), to_numpy(std::move(split.first.y)), flat(split.second.x),
                          to_numpy(std::move(split.second.y)));
  });
  m.def("imdb_word_index", [](const std::string& path) {
    nb::dict d;
    for (const auto& [w, i] : datasets::imdb::get_word_index(path)) d[nb::str(w.c_str())] = i;
    return d;
  });
  m.def("mnist_load_data", [](const std::string& dir) {
    auto [train, test] = datasets::mnist::load_data(dir);
    return nb::make_tuple(to_numpy(std::move(train.x)), to_numpy(std::move(train.y)), to_numpy(std::move(test.x)),
                          to_numpy(std::move(test.y)));
  });
  m.def("pad_sequences", [](const std::vector<InArray>& sequences, std::optional<int64_t> maxlen, bool int_dtype,
                            bool pad_post, bool truncate_post, float value) {
    data::PadOptions o;
    o.maxlen = maxlen;
    o.dtype = int_dtype ? DType::int32 : DType::float32;
    o.padding = pad_post ? data::Side::post : data::Side::pre;
    o.truncating = truncate_post ? data::Side::post : data::Side::pre;
    o.value = value;
    for (const auto& a : sequences)
      if (a.ndim() != 1 || a.dtype() != (int_dtype ? nb::dtype<int32_t>() : nb::dtype<float>()))
        throw Error("pad_sequences: each sequence must be a flat int32 or float32 array (the Python layer converts)");
    if (int_dtype) {
      std::vector<std::vector<int32_t>> seqs;
      seqs.reserve(sequences.size());
      for (const auto& s : sequences) {
        auto* p = static_cast<const int32_t*>(s.data());
        seqs.emplace_back(p, p + s.size());
      }
      return to_numpy(data::pad_sequences(seqs, o));
    }
    std::vector<std::vector<float>> seqs;
    seqs.reserve(sequences.size());
    for (const auto& s : sequences) {
      auto* p = static_cast<const float*>(s.data());
      seqs.emplace_back(p, p + s.size());
    }
    return to_numpy(data::pad_sequences(seqs, o));
  });
}
