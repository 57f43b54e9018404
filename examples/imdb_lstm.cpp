// The notes' IMDB LSTM example, in C++ as written there:
//   Embedding(500, 16) -> LSTM(8) -> Dense(1, sigmoid), reviews cut to 100 words, RMSprop(1e-4), batch 64,
//   ModelCheckpoint("best-lstm-model.keras", save_best_only) + EarlyStopping(patience=3, restore_best_weights).
// Then the best model is reloaded and must predict exactly what the trained model predicts.
//   imdb_lstm [EPOCHS] [OUT_DIR]      (data from $SEQNET_DATA_DIR or ../shared/data)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <seqnet/seqnet.h>

using namespace seqnet;

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 20;
  const std::string out = argc > 2 ? argv[2] : ".";
  const int64_t max_features = 500, maxlen = 100;

  if (datasets::try_find_data_file("imdb/imdb_word_index.json").empty()) {
    std::printf("skipped: the IMDB data set is not there (set SEQNET_DATA_DIR)\n");
    return 77;
  }
  set_random_seed(42);
  auto [train, test] = datasets::imdb::load_data({.num_words = max_features});
  Tensor x_train = data::pad_sequences(train.x, {.maxlen = maxlen});
  Tensor x_test = data::pad_sequences(test.x, {.maxlen = maxlen});
  Tensor y_train = train.y.as_float(), y_test = test.y.as_float();

  Sequential model;
  model.add(Input({maxlen}, {.dtype = DType::int32}));
  model.add(layers::Embedding(max_features, 16));
  model.add(layers::LSTM(8));
  model.add(layers::Dense(1, {.activation = "sigmoid"}));
  model.compile({.optimizer = optimizers::RMSprop({.learning_rate = 1e-4f}), .loss = "binary_crossentropy", .metrics = {"acc"}});
  model.summary();

  const std::string best_path = (std::filesystem::path(out) / "best-lstm-model.keras").string();
  auto checkpoint = callbacks::ModelCheckpoint(best_path, {.save_best_only = true});
  auto early_stop = callbacks::EarlyStopping({.patience = 3, .restore_best_weights = true});
  History h = model.fit(x_train, y_train, {.batch_size = 64, .epochs = epochs, .validation_split = 0.2f,
                                           .callbacks = {checkpoint, early_stop}});

  Logs result = model.evaluate(x_test, y_test, {.batch_size = 256});
  std::printf("test loss %.4f, test acc %.4f\n", *result.get("loss"), *result.get("acc"));

  // restore_best_weights left the best epoch's weights in the model: the checkpoint must hold the same.
  auto best = load_model(best_path);
  Tensor a = model.predict(x_test.slice_rows(0, 500), 128), b = best->predict(x_test.slice_rows(0, 500), 128);
  for (int64_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) {
      std::printf("the reloaded best model predicts %.9g where the trained model predicts %.9g (row %lld)\n", b[i], a[i],
                  static_cast<long long>(i));
      return 1;
    }
  std::printf("the reloaded best model (%s) predicts identically on 500 test reviews\n", best_path.c_str());
  return 0;
}
