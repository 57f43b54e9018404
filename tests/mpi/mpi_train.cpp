// Data-parallel training check, run by tests/mpi/run.cmake:
//   mpi_train --out FILE            trains a small recurrent model; rank 0 writes its weights and history
//   mpi_train --compare A B TOL     exits 0 when the two runs agree to TOL
//   mpi_train --die-at-step K       rank 1 kills itself at step K: the other ranks must not hang
//   mpi_train --first-epoch FILE    trains epoch 1 only and checkpoints to FILE (.keras)
//   mpi_train --resume FILE OUT     loads FILE and trains epochs 2-3 (any number of ranks), writes OUT
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "seqnet/distributed.h"
#include "seqnet/seqnet.h"

using namespace seqnet;

namespace {
std::pair<Tensor, Tensor> make_data(int64_t n) {
  Rng rng(7);
  Tensor x({n, 12}, DType::int32), y({n, 1});
  for (int64_t i = 0; i < n; ++i) {
    int count = 0;
    for (int t = 0; t < 12; ++t) {
      int32_t id = int32_t(rng.randint(1, 20));
      x.idata()[i * 12 + t] = id;
      count += id < 6;
    }
    y[i] = count >= 3 ? 1.0f : 0.0f;
  }
  return {x, y};
}

std::unique_ptr<Sequential> model() {
  set_random_seed(21);
  auto m = std::make_unique<Sequential>();
  m->add(layers::Embedding(20, 6, {.input_length = 12}));
  m->add(layers::LSTM(5));
  m->add(layers::Dense(1, {.activation = "sigmoid"}));
  m->compile({.optimizer = optimizers::Adam({.learning_rate = 0.01f}), .loss = "binary_crossentropy", .metrics = {"acc"}});
  return m;
}

class DieAt : public Callback {
 public:
  explicit DieAt(int step) : step_(step) {}
  void on_train_batch_begin(int batch, Logs&) override {
    if (distributed::rank() == 1 && batch == step_) std::raise(SIGKILL);
  }

 private:
  int step_;
};

std::vector<double> read_numbers(const char* path) {
  std::ifstream f(path);
  std::vector<double> v;
  double d;
  while (f >> d) v.push_back(d);
  return v;
}
}  // namespace

int main(int argc, char** argv) {
  distributed::init(&argc, &argv);
  if (argc == 5 && std::strcmp(argv[1], "--compare") == 0) {
    auto a = read_numbers(argv[2]), b = read_numbers(argv[3]);
    double tol = std::atof(argv[4]), worst = 0;
    if (a.size() != b.size() || a.empty()) {
      std::fprintf(stderr, "runs differ in size: %zu vs %zu numbers\n", a.size(), b.size());
      return 1;
    }
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
    std::printf("max |difference| between the 1-process and the N-rank run: %.3g (tolerance %.3g) over %zu numbers\n",
                worst, tol, a.size());
    return worst <= tol ? 0 : 1;
  }
  auto [x, y] = make_data(403);  // 403 rows, batch 31: uneven shards on 2 ranks
  auto m = model();
  FitOptions fit{.batch_size = 31, .epochs = 3, .verbose = 0, .validation_split = 0.2f};
  if (argc == 3 && std::strcmp(argv[1], "--first-epoch") == 0) {
    fit.epochs = 1;
    fit.callbacks.push_back(callbacks::ModelCheckpoint(argv[2]));
    m->fit(x, y, fit);
    return 0;
  }
  if (argc == 4 && std::strcmp(argv[1], "--resume") == 0) {
    m = std::unique_ptr<Sequential>(dynamic_cast<Sequential*>(load_model(argv[2]).release()));
    if (!m) return 2;
    fit.initial_epoch = m->epochs_completed;
    History h = m->fit(x, y, fit);
    if (distributed::is_root()) {
      std::FILE* f = std::fopen(argv[3], "w");
      for (Param* p : m->params())
        for (int64_t i = 0; i < p->value.size(); ++i) std::fprintf(f, "%.9g\n", p->value[i]);
      std::fclose(f);
    }
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--die-at-step") == 0) fit.callbacks.push_back(std::make_shared<DieAt>(std::atoi(argv[2])));
  History h = m->fit(x, y, fit);
  if (argc == 3 && std::strcmp(argv[1], "--out") == 0 && distributed::is_root()) {
    std::FILE* f = std::fopen(argv[2], "w");
    for (Param* p : m->params())
      for (int64_t i = 0; i < p->value.size(); ++i) std::fprintf(f, "%.9g\n", p->value[i]);
    for (const auto& [key, values] : h.history)
      for (double v : values) std::fprintf(f, "%.9g\n", v);
    std::fclose(f);
    std::printf("rank 0 of %d: val_loss %.5f, val_acc %.4f\n", distributed::size(), h["val_loss"].back(), h["val_acc"].back());
  }
  return 0;
}
