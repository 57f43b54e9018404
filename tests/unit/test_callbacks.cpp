// Built-in callbacks against Keras 3's decisions and messages (keras/src/callbacks/*.py).
#include <cmath>
#include <fmt/format.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

#include "seqnet/saving.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<Model> tiny_model() {
  auto in = Input({3});
  auto out = in | layers::Dense(2, {.name = "d"});
  auto m = std::make_unique<Model>(in, out, "tiny");
  m->compile({.optimizer = optimizers::SGD({.learning_rate = 0.1f}), .loss = "mse"});
  return m;
}

void set_all(Model& m, float v) {
  for (Param* p : m.params()) p->value.fill(v);
}

// Runs the epoch hooks with the given monitored values, setting every weight to the epoch index
// first, as if that epoch had trained them; returns the epoch at which training stopped (or -1).
int drive(Callback& cb, Model& m, const std::string& key, const std::vector<double>& values) {
  cb.set_model(&m);
  m.stop_training = false;
  Logs logs;
  cb.on_train_begin(logs);
  int stopped = -1;
  for (int e = 0; e < int(values.size()); ++e) {
    cb.on_epoch_begin(e, logs);
    set_all(m, float(e));
    Logs l;
    l.set("loss", values[size_t(e)]);
    l.set(key, values[size_t(e)]);
    cb.on_epoch_end(e, l);
    if (m.stop_training) {
      stopped = e;
      break;
    }
  }
  cb.on_train_end(logs);
  return stopped;
}

std::string tmpdir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("seqnet_cb_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST(EarlyStopping, StopsAfterPatienceWithKerasMessages) {
  auto m = tiny_model();
  EarlyStopping es({.patience = 2, .verbose = 1});
  ::testing::internal::CaptureStdout();
  int stopped = drive(es, *m, "val_loss", {1.0, 0.9, 0.95, 0.96, 0.97, 0.5});
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(stopped, 3);
  EXPECT_EQ(es.stopped_epoch(), 3);
  EXPECT_EQ(es.best_epoch(), 1);
  EXPECT_DOUBLE_EQ(*es.best(), 0.9);
  EXPECT_EQ(out, "Epoch 4: early stopping\n");
}

TEST(EarlyStopping, MinDeltaCountsSmallGainsAsNoImprovement) {
  auto m = tiny_model();
  EarlyStopping es({.min_delta = 0.1, .patience = 1});
  EXPECT_EQ(drive(es, *m, "val_loss", {1.0, 0.95, 0.5}), 1);
}

TEST(EarlyStopping, RestoresBestWeightsEvenWhenItNeverFired) {
  // Keras 3 restores at train end whenever a best snapshot exists (commit 8c126e3).
  auto m = tiny_model();
  EarlyStopping es({.patience = 10, .verbose = 1, .restore_best_weights = true});
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(drive(es, *m, "val_loss", {1.0, 0.5, 0.7, 0.8}), -1);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(out, "Restoring model weights from the end of the best epoch: 2.\n");
  for (Param* p : m->params()) EXPECT_EQ(p->value[0], 1.0f) << p->name;
}

TEST(EarlyStopping, RestoresAfterTriggeredStop) {
  auto m = tiny_model();
  EarlyStopping es({.monitor = "val_acc", .patience = 1, .restore_best_weights = true});
  EXPECT_EQ(drive(es, *m, "val_acc", {0.5, 0.8, 0.7, 0.9}), 2);  // "acc" is maximized in auto mode
  for (Param* p : m->params()) EXPECT_EQ(p->value[0], 1.0f);
}

TEST(EarlyStopping, BaselineKeepsWaitRunningUntilBeaten) {
  auto m = tiny_model();
  EarlyStopping es({.patience = 2, .baseline = 0.5});
  // Improvements that do not beat the baseline leave wait counting: the first bad epoch stops.
  EXPECT_EQ(drive(es, *m, "val_loss", {0.9, 0.8, 0.85, 0.9}), 2);
  EarlyStopping plain({.patience = 2});
  EXPECT_EQ(drive(plain, *m, "val_loss", {0.9, 0.8, 0.85, 0.9}), 3);
  EarlyStopping es2({.patience = 2, .baseline = 0.5});
  EXPECT_EQ(drive(es2, *m, "val_loss", {0.9, 0.4, 0.45, 0.2, 0.1}), -1);
}

TEST(EarlyStopping, StartFromEpochIgnoresEarlyEpochs) {
  auto m = tiny_model();
  EarlyStopping es({.patience = 1, .start_from_epoch = 3});
  EXPECT_EQ(drive(es, *m, "val_loss", {0.1, 0.9, 0.9, 0.9, 0.9, 0.9}), 4);
  EXPECT_EQ(es.best_epoch(), 3);
}

TEST(EarlyStopping, UnknownDirectionIsAnError) {
  auto m = tiny_model();
  EarlyStopping es({.monitor = "val_foo"});
  EXPECT_THROW(drive(es, *m, "val_foo", {1.0}), Error);
  EarlyStopping ok({.monitor = "val_foo", .patience = 0, .mode = "max"});
  EXPECT_EQ(drive(ok, *m, "val_foo", {1.0, 0.5}), 1);
}

TEST(EarlyStopping, WorksInsideFit) {
  set_random_seed(2);
  auto m = tiny_model();
  Tensor x({64, 3}), y({64, 2});
  Rng r(4);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = r.uniform(-1, 1);
  auto es = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "loss", .min_delta = 10.0, .patience = 2});
  History h = m->fit(x, y, {.batch_size = 16, .epochs = 20, .verbose = 0, .callbacks = {es}});
  EXPECT_EQ(h.epoch.size(), 3u);  // a min_delta of 10 never improves: stop at epoch index 2
  EXPECT_EQ(m->epochs_completed, 3);
}

TEST(ModelCheckpoint, FormatsPathsLikePython) {
  Logs logs;
  logs.set("val_loss", 0.123456);
  logs.set("acc", 0.5);
  EXPECT_EQ(format_checkpoint_path("m-{epoch:02d}-{val_loss:.4f}.keras", 2, std::nullopt, logs), "m-03-0.1235.keras");
  EXPECT_EQ(format_checkpoint_path("m{epoch}_{batch}_{acc:.2f}.keras", 0, 4, logs), "m1_5_0.50.keras");
  EXPECT_EQ(format_checkpoint_path("{{epoch}}.keras", 0, std::nullopt, logs), "{epoch}.keras");
  EXPECT_THROW(format_checkpoint_path("m-{nope}.keras", 0, std::nullopt, logs), Error);
  EXPECT_THROW(format_checkpoint_path("m-{acc:d}.keras", 0, std::nullopt, logs), Error);
}

TEST(ModelCheckpoint, RejectsWrongExtensions) {
  EXPECT_THROW(ModelCheckpoint("m.txt"), Error);
  EXPECT_THROW(ModelCheckpoint("m.keras", {.save_weights_only = true}), Error);
  EXPECT_NO_THROW(ModelCheckpoint("m.weights.h5", {.save_weights_only = true}));
  EXPECT_NO_THROW(ModelCheckpoint("m.h5"));
}

TEST(ModelCheckpoint, SaveBestOnlyWritesOnImprovementWithMessages) {
  std::string dir = tmpdir("best");
  auto m = tiny_model();
  ModelCheckpoint ck(dir + "/best.keras", {.verbose = 1, .save_best_only = true});
  ::testing::internal::CaptureStdout();
  drive(ck, *m, "val_loss", {0.5, 0.7, 0.25});
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string expected = fmt::format(
      "\nEpoch 1: val_loss improved from None to 0.50000, saving model to {0}/best.keras\n"
      "\nEpoch 2: val_loss did not improve from 0.50000\n"
      "\nEpoch 3: val_loss improved from 0.50000 to 0.25000, saving model to {0}/best.keras\n",
      dir);
  EXPECT_EQ(out, expected);
  auto loaded = load_model(dir + "/best.keras");
  for (Param* p : loaded->params()) EXPECT_EQ(p->value[0], 2.0f);  // the weights of epoch 3
  fs::remove_all(dir);
}

TEST(ModelCheckpoint, EveryEpochWithFormattedNamesAndBatchFrequency) {
  std::string dir = tmpdir("freq");
  auto m = tiny_model();
  ModelCheckpoint ck(dir + "/w-{epoch:02d}.weights.h5", {.save_weights_only = true});
  drive(ck, *m, "val_loss", {0.5, 0.7});
  EXPECT_TRUE(fs::exists(dir + "/w-01.weights.h5"));
  EXPECT_TRUE(fs::exists(dir + "/w-02.weights.h5"));
  auto other = tiny_model();
  other->load_weights(dir + "/w-02.weights.h5");
  for (Param* p : other->params()) EXPECT_EQ(p->value[0], 1.0f);

  // save_freq = 3 batches over epochs of 4 batches: saves after batches 3, 6 (epoch 2 batch 1), 9, 12.
  Tensor x({64, 3}), y({64, 2});
  auto ck2 = std::make_shared<ModelCheckpoint>(dir + "/b-{epoch}-{batch}.keras", ModelCheckpointOptions{.save_freq = 3});
  m->fit(x, y, {.batch_size = 16, .epochs = 3, .verbose = 0, .shuffle = false, .callbacks = {ck2}});
  EXPECT_TRUE(fs::exists(dir + "/b-1-3.keras"));
  EXPECT_TRUE(fs::exists(dir + "/b-2-2.keras"));
  EXPECT_TRUE(fs::exists(dir + "/b-3-1.keras"));
  EXPECT_TRUE(fs::exists(dir + "/b-3-4.keras"));
  fs::remove_all(dir);
}

TEST(CSVLogger, WritesSortedKeysAndAppends) {
  std::string dir = tmpdir("csv");
  auto m = tiny_model();
  {
    CSVLogger log(dir + "/log.csv");
    log.set_model(m.get());
    Logs none;
    log.on_train_begin(none);
    Logs l;
    l.set("loss", 0.5);
    l.set("val_loss", 0.25);
    l.set("acc", 1.0);
    log.on_epoch_end(0, l);
    l.set("loss", 0.1);
    log.on_epoch_end(1, l);
    log.on_train_end(none);
  }
  EXPECT_EQ(slurp(dir + "/log.csv"), "epoch,acc,loss,val_loss\n0,1.0,0.5,0.25\n1,1.0,0.1,0.25\n");
  {
    CSVLogger log(dir + "/log.csv", ";", true);
    log.set_model(m.get());
    Logs none, l;
    log.on_train_begin(none);
    l.set("loss", 2.0);
    log.on_epoch_end(2, l);
    log.on_train_end(none);
  }
  EXPECT_EQ(slurp(dir + "/log.csv"), "epoch,acc,loss,val_loss\n0,1.0,0.5,0.25\n1,1.0,0.1,0.25\n2;2.0\n");
  fs::remove_all(dir);
}

TEST(ReduceLROnPlateau, ReducesAfterPatienceThenCoolsDown) {
  auto m = tiny_model();
  ReduceLROnPlateau r({.factor = 0.5, .patience = 2, .verbose = 1, .cooldown = 1, .min_lr = 0.02});
  r.set_model(m.get());
  Logs none;
  r.on_train_begin(none);
  std::vector<double> vals = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
  std::vector<float> lrs;
  ::testing::internal::CaptureStdout();
  for (int e = 0; e < int(vals.size()); ++e) {
    Logs l;
    l.set("val_loss", vals[size_t(e)]);
    r.on_epoch_end(e, l);
    EXPECT_TRUE(l.contains("learning_rate"));
    lrs.push_back(m->optimizer()->learning_rate());
  }
  std::string out = ::testing::internal::GetCapturedStdout();
  // e0 best; e1 wait 1; e2 wait 2 -> 0.05, cooldown 1; e3 cooldown ends, wait 1; e4 wait 2 -> 0.025;
  // e5 wait 1; e6 -> max(0.0125, min_lr) = 0.02; e7 wait 1.
  std::vector<float> expected = {0.1f, 0.1f, 0.05f, 0.05f, 0.025f, 0.025f, 0.02f, 0.02f};
  for (size_t i = 0; i < lrs.size(); ++i) EXPECT_NEAR(lrs[i], expected[i], 1e-7) << i;
  EXPECT_NE(out.find("\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.0500000007"), std::string::npos) << out;
  EXPECT_THROW(ReduceLROnPlateau({.factor = 1.0}), Error);
}

TEST(Schedules, KerasFormulas) {
  auto e = schedules::ExponentialDecay(0.1, 10, 0.5);
  EXPECT_NEAR((*e)(5), 0.1 * std::pow(0.5, 0.5), 1e-12);
  auto es = schedules::ExponentialDecay(0.1, 10, 0.5, true);
  EXPECT_NEAR((*es)(15), 0.05, 1e-12);
  auto c = schedules::CosineDecay(1.0, 10, 0.1);
  EXPECT_NEAR((*c)(0), 1.0, 1e-12);
  EXPECT_NEAR((*c)(5), 0.9 * 0.5 + 0.1, 1e-12);
  EXPECT_NEAR((*c)(20), 0.1, 1e-12);
  auto p = schedules::PiecewiseConstantDecay({2, 4}, {1.0, 0.5, 0.1});
  EXPECT_EQ((*p)(2), 1.0);
  EXPECT_EQ((*p)(3), 0.5);
  EXPECT_EQ((*p)(5), 0.1);
  EXPECT_THROW(schedules::PiecewiseConstantDecay({2}, {1.0}), Error);
}

TEST(LearningRateScheduler, SetsRateEachEpochAndLogsIt) {
  auto m = tiny_model();
  Tensor x({8, 3}), y({8, 2});
  auto sched = std::make_shared<LearningRateScheduler>(schedules::PiecewiseConstantDecay({0, 1}, {0.1, 0.01, 0.001}));
  History h = m->fit(x, y, {.batch_size = 8, .epochs = 3, .verbose = 0, .callbacks = {sched}});
  ASSERT_TRUE(h.contains("learning_rate"));
  EXPECT_NEAR(h["learning_rate"][0], 0.1, 1e-7);
  EXPECT_NEAR(h["learning_rate"][1], 0.01, 1e-8);
  EXPECT_NEAR(h["learning_rate"][2], 0.001, 1e-9);
  auto fn = std::make_shared<LearningRateScheduler>([](int epoch, double lr) { return epoch < 1 ? lr : lr * 0.5; });
  h = m->fit(x, y, {.batch_size = 8, .epochs = 3, .verbose = 0, .callbacks = {fn}});
  EXPECT_NEAR(h["learning_rate"][2], 0.001 * 0.25, 1e-10);
}

TEST(TerminateOnNaN, StopsOnInvalidLoss) {
  auto m = tiny_model();
  TerminateOnNaN t;
  t.set_model(m.get());
  Logs l;
  l.set("loss", 1.0);
  t.on_train_batch_end(0, l);
  EXPECT_FALSE(m->stop_training);
  l.set("loss", std::nan(""));
  ::testing::internal::CaptureStdout();
  t.on_train_batch_end(7, l);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "Batch 7: Invalid loss, terminating training\n");
  EXPECT_TRUE(m->stop_training);
}
