// The C++ side of bench/python_overhead.py: setup A (Embedding(500,16) LSTM(8) Dense(1,sigmoid), B=64 T=100) or
// E (GRU(32) Dense(1), B=128 T=240 F=14) trained by Model::fit on arrays, or on a source of batches (what a
// Python generator is to the Python package). Prints the milliseconds per step of each round.
//   fit_overhead A|E arrays|source STEPS ROUNDS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <malloc.h>
#include <string>

#include <seqnet/seqnet.h>

using namespace seqnet;

namespace {
struct Data {
  Tensor x, y;
  int64_t batch;
};

std::unique_ptr<Sequential> build(char setup) {
  set_random_seed(0);
  clear_session();
  auto m = std::make_unique<Sequential>();
  if (setup == 'A') {
    m->add(Input({100}, {.dtype = DType::int32}));
    m->add(layers::Embedding(500, 16));
    m->add(layers::LSTM(8));
    m->add(layers::Dense(1, {.activation = "sigmoid"}));
    m->compile({.optimizer = optimizers::RMSprop({.learning_rate = 1e-4f}), .loss = "binary_crossentropy"});
  } else {
    m->add(Input({240, 14}));
    m->add(layers::GRU(32));
    m->add(layers::Dense(1));
    m->compile({.optimizer = optimizers::RMSprop({.learning_rate = 1e-3f}), .loss = "mae"});
  }
  return m;
}

Data make_data(char setup, int64_t steps) {
  Rng rng(1);
  Data d;
  d.batch = setup == 'A' ? 64 : 128;
  const int64_t n = d.batch * steps;
  if (setup == 'A') {
    d.x = Tensor({n, 100}, DType::int32);
    for (int64_t i = 0; i < d.x.size(); ++i) d.x.idata()[i] = int32_t(rng.randint(0, 500));
  } else {
    d.x = Tensor({n, 240, 14});
    for (int64_t i = 0; i < d.x.size(); ++i) d.x[i] = rng.normal();
  }
  d.y = Tensor({n, 1});
  for (int64_t i = 0; i < n; ++i) d.y[i] = float(rng.randint(0, 2));
  return d;
}

// Consecutive batches of the arrays, as a Python generator slicing NumPy arrays hands them over.
class SliceSource : public BatchSource {
 public:
  explicit SliceSource(const Data& d) : d_(d) {}
  std::pair<Tensor, Tensor> next_batch() override {
    const int64_t n = d_.x.dim(0);
    if (at_ + d_.batch > n) at_ = 0;
    auto out = std::make_pair(d_.x.slice_rows(at_, at_ + d_.batch), d_.y.slice_rows(at_, at_ + d_.batch));
    at_ += d_.batch;
    return out;
  }

 private:
  const Data& d_;
  int64_t at_ = 0;
};
}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 || (argv[1][0] != 'A' && argv[1][0] != 'E')) {
    std::fprintf(stderr, "usage: fit_overhead A|E arrays|source STEPS ROUNDS\n");
    return 2;
  }
  // As the seqnet command does (tools/seqnet/main.cpp): without it glibc returns the top of the heap to the
  // kernel after each step of fit and faults it back in on the next, a cost a Python process does not pay.
  if (!std::getenv("SEQNET_BENCH_PLAIN_MALLOC")) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  const char setup = argv[1][0];
  const bool source = std::string(argv[2]) == "source";
  const int64_t steps = std::stoll(argv[3]);
  const int rounds = std::stoi(argv[4]);
  auto model = build(setup);
  Data d = make_data(setup, steps);
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (source) {
      SliceSource s(d);
      model->fit(s, {.epochs = 1, .verbose = 0, .steps_per_epoch = steps});
    } else {
      model->fit(d.x, d.y, {.batch_size = d.batch, .epochs = 1, .verbose = 0});
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%.4f\n", ms / double(steps));
    std::fflush(stdout);
  }
  return 0;
}
