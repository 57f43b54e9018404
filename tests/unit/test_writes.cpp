// Every file seqnet writes (NumPy, model files, weights, history, figures, CSV logs) either lands whole or
// fails with an error naming the file and the OS reason: on /dev/full (every write fails with ENOSPC), and on
// a "full disk" made by a file-size limit (RLIMIT_FSIZE: writes past it fail with EFBIG), where the previous
// file must stay as it was and no temporary file may be left behind.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include "seqnet/data/npy.h"
#include "seqnet/data/npz.h"
#include "seqnet/history.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<Sequential> small_model() {
  set_random_seed(1);
  auto model = std::make_unique<Sequential>();
  model->add(Input({10, 3}));
  model->add(layers::LSTM(64));
  model->add(layers::Dense(1));
  model->compile({.optimizer = "adam", .loss = "mse"});
  return model;
}

History small_history() {
  History h;
  for (int e = 0; e < 3; ++e) {
    Logs logs;
    logs.set("loss", 1.0 / (e + 1));
    logs.set("val_loss", 1.5 / (e + 1));
    h.append(e, logs);
  }
  return h;
}

Tensor big_tensor() {
  Tensor t({200, 50});
  for (int64_t i = 0; i < t.size(); ++i) t[i] = float(i);
  return t;
}

// Each writer, writing `path`.
std::vector<std::pair<std::string, std::function<void(const std::string&)>>> writers() {
  return {
      {"write_file_atomic", [](const std::string& p) { write_file_atomic(p, std::string(20000, 'x')); }},
      {"write_npy", [](const std::string& p) { data::write_npy(p, big_tensor()); }},
      {"write_npz", [](const std::string& p) {
         data::write_npz(p, {{"x", data::NpyArray::from_tensor(big_tensor())}}, false);
       }},
      {"save_model .keras", [](const std::string& p) {
         save_model(*small_model(), p + ".keras");
       }},
      {"save_model .h5", [](const std::string& p) {
         save_model(*small_model(), p + ".h5");
       }},
      {"save_weights", [](const std::string& p) {
         save_weights(*small_model(), p + ".weights.h5");
       }},
      {"write_history_csv", [](const std::string& p) {
         History h = small_history();
         for (int e = 3; e < 2000; ++e) {
           Logs logs;
           logs.set("loss", 1.0 / e);
           h.append(e, logs);
         }
         write_history_csv(h, p);
       }},
      {"CSVLogger", [](const std::string& p) {
         CSVLogger logger(p);
         Logs logs;
         logger.on_train_begin(logs);
         for (int e = 0; e < 500; ++e) {
           logs.set("loss", 1.0 / (e + 1));
           logger.on_epoch_end(e, logs);
         }
       }},
  };
}

}  // namespace

TEST(Writes, EveryWriterFailsOnDevFullNamingTheFile) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  for (auto& [name, write] : writers()) {
    if (name.rfind("save_", 0) == 0) continue;  // these add their own extension: checked with the size limit below
    try {
      write("/dev/full");
      ADD_FAILURE() << name << ": no error on /dev/full";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("/dev/full"), std::string::npos) << name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << name << ": " << e.what();
    }
  }
  EXPECT_TRUE(fs::exists("/dev/full") && !fs::is_regular_file("/dev/full")) << "the device must never be replaced";
}

TEST(Writes, AFullDiskLeavesThePreviousFileAndNoTemporaries) {
  const fs::path dir = fs::temp_directory_path() / ("seqnet_writes_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Past this size every write fails with EFBIG, as on a full disk; the signal that would kill us is ignored.
  struct rlimit before;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &before), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  for (auto& [name, write] : writers()) {
    SCOPED_TRACE(name);
    const std::string path = (dir / "out").string();
    const std::string suffix = name == "save_model .keras" ? ".keras"
                               : name == "save_model .h5" ? ".h5"
                               : name == "save_weights"   ? ".weights.h5"
                                                          : "";
    write_file_atomic(path + suffix, "previous");
    struct rlimit small = before;
    small.rlim_cur = 4096;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    std::string message;
    try {
      write(path);
    } catch (const Error& e) {
      message = e.what();
    }
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &before), 0);
    EXPECT_NE(message.find(path), std::string::npos) << "no error naming the file: '" << message << "'";
    EXPECT_NE(message.find("File too large"), std::string::npos) << message;
    const std::string now = read_file_bytes(path + suffix);
    if (name == "CSVLogger") {  // a new run starts a new log (as Keras's does); it holds the rows written whole
      EXPECT_EQ(now.rfind("epoch,loss\n0,", 0), 0u) << now.substr(0, 100);
      EXPECT_EQ(now.back(), '\n');
    } else {
      EXPECT_EQ(now, "previous") << "the previous file changed";
    }
    for (const auto& entry : fs::directory_iterator(dir))
      EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << "left behind: " << entry.path();
    fs::remove(path + suffix);
  }
  std::signal(SIGXFSZ, old_handler);
  fs::remove_all(dir);
}

TEST(Writes, FiguresAreWrittenWholeOrNotAtAll) {
  const fs::path dir = fs::temp_directory_path() / ("seqnet_figures_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  struct rlimit before;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &before), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = before;
  small.rlim_cur = 2000;  // smaller than any figure
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    plot_history(small_history(), dir.string(), {.png = true, .svg = true});
  } catch (const Error& e) {
    message = e.what();
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &before), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find((dir / "loss.png").string()), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "loss.png")) << "a partial figure was left";
  fs::remove_all(dir);
}

TEST(Writes, StaleTemporariesOfAKilledSaveAreRemovedByTheNextSave) {
  const fs::path dir = fs::temp_directory_path() / ("seqnet_stale_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_file_atomic((dir / ".best.keras.tmp-AbC123").string(), "half a model");  // as a kill mid-save leaves it
  write_file_atomic((dir / ".other.keras.tmp-AbC123").string(), "another file's");
  write_file_atomic((dir / "best.keras").string(), "whole");
  EXPECT_FALSE(fs::exists(dir / ".best.keras.tmp-AbC123"));
  EXPECT_TRUE(fs::exists(dir / ".other.keras.tmp-AbC123")) << "only the saved file's own temporaries go";
  fs::remove_all(dir);
}
