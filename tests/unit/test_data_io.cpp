// .npy / .npz (fixtures written by numpy, make_data_fixtures.py), NumPy's pickled object arrays, CSV
// policies, and clear errors on malformed files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fixtures.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using seqnet::testing::error_of;
using namespace seqnet::data;

namespace {

std::string fixture(const std::string& name) { return std::string(SEQNET_FIXTURE_DIR) + "/data/" + name; }

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("seqnet_test_data_io_" + std::to_string(::getpid()) + "_" + name)).string();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST(Npy, ReadsEveryNumpyType) {
  NpyArray f4 = read_npy(fixture("f4.npy"));
  EXPECT_EQ(f4.type, NpyType::float32);
  EXPECT_EQ(f4.shape, (Shape{2, 3}));
  EXPECT_EQ(f4.values<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1, 1.25f}));
  EXPECT_EQ(read_npy(fixture("f8.npy")).values<double>(), (std::vector<double>{1.5, -2.25, 1e10}));
  EXPECT_EQ(read_npy(fixture("i4.npy")).values<int32_t>(), (std::vector<int32_t>{1, -2, 2147483647, -2147483647 - 1}));
  EXPECT_EQ(read_npy(fixture("i8.npy")).values<int64_t>(), (std::vector<int64_t>{0, 1, -1, int64_t{1} << 40}));
  EXPECT_EQ(read_npy(fixture("u1.npy")).values<uint8_t>(), (std::vector<uint8_t>{0, 255, 7, 128}));
  EXPECT_EQ(read_npy(fixture("b1.npy")).values<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(read_npy(fixture("f4_big_endian.npy")).values<float>(), (std::vector<float>{1.0f, -3.5f}));
  EXPECT_THROW(read_npy(fixture("f4.npy")).values<double>(), Error);
}

TEST(Npy, ToTensorConvertsAndRangeChecks) {
  Tensor t = read_npy(fixture("f8.npy")).to_tensor();
  EXPECT_TRUE(t.is_float());
  EXPECT_EQ(t[1], -2.25f);
  Tensor u = read_npy(fixture("u1.npy")).to_tensor();
  EXPECT_EQ(u.dtype(), DType::int32);
  EXPECT_EQ(u.idata()[1], 255);
  EXPECT_THROW(read_npy(fixture("i8.npy")).to_tensor(), Error);  // 2**40 does not fit int32
}

TEST(Npy, WriteReadRoundTripAndNumpyHeader) {
  const std::string path = temp_path("rt.npy");
  Tensor t({2, 2}, std::vector<float>{1, 2, 3, 4});
  write_npy(path, t);
  std::vector<uint8_t> bytes = npy_bytes(NpyArray::from_tensor(t));
  EXPECT_EQ((10 + (bytes[8] | bytes[9] << 8)) % 64, 0);  // numpy aligns the data to 64 bytes
  Tensor back = read_npy(path).to_tensor();
  EXPECT_EQ(back.shape(), t.shape());
  EXPECT_EQ(back[3], 4.0f);
  // Byte-identical to numpy's own file for the same array.
  NpyArray f4 = read_npy(fixture("f4.npy"));
  std::ifstream in(fixture("f4.npy"), std::ios::binary);
  std::vector<uint8_t> numpy_bytes((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(npy_bytes(f4), numpy_bytes);
  auto ints = NpyArray::from_values<int64_t>({3}, {5, -6, 7});
  write_npy(path, ints);
  EXPECT_EQ(read_npy(path).values<int64_t>(), (std::vector<int64_t>{5, -6, 7}));
  std::remove(path.c_str());
}

TEST(Npy, ObjectArraysOfIntListsBothPickleProtocols) {
  for (const char* name : {"object_lists.npy", "object_lists_protocol2.npy"}) {
    NpyArray a = read_npy(fixture(name));
    EXPECT_EQ(a.type, NpyType::object) << name;
    EXPECT_EQ(a.shape, (Shape{3}));
    ASSERT_EQ(a.lists.size(), 3u) << name;
    EXPECT_EQ(a.lists[0], (std::vector<int64_t>{1, 14, 22}));
    EXPECT_TRUE(a.lists[1].empty());
    EXPECT_EQ(a.lists[2], (std::vector<int64_t>{5, 70000, int64_t{1} << 33}));
  }
  std::string msg = error_of([] { read_npy(fixture("object_strings.npy")); });
  EXPECT_NE(msg.find("not a list"), std::string::npos) << msg;
  EXPECT_NE(msg.find("object_strings.npy"), std::string::npos) << msg;
}

TEST(Npy, MalformedFilesNameTheFileAndOffset) {
  const std::string path = temp_path("bad.npy");
  write_text(path, "NOTNUMPY....");
  EXPECT_NE(error_of([&] { read_npy(path); }).find("bad magic"), std::string::npos);
  std::ifstream in(fixture("f8.npy"), std::ios::binary);
  std::string whole((std::istreambuf_iterator<char>(in)), {});
  write_text(path, whole.substr(0, whole.size() - 3));
  std::string msg = error_of([&] { read_npy(path); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte 128"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { read_npy(fixture("fortran.npy")); }).find("Fortran"), std::string::npos);
  // A truncated pickle.
  std::ifstream pin(fixture("object_lists.npy"), std::ios::binary);
  std::string pick((std::istreambuf_iterator<char>(pin)), {});
  write_text(path, pick.substr(0, pick.size() - 20));
  EXPECT_THROW(read_npy(path), Error);
  std::remove(path.c_str());
  EXPECT_THROW(read_npy(temp_path("missing.npy")), Error);
}

TEST(Npz, ReadsNumpySavezAndSavezCompressed) {
  NpzArchive z = read_npz(fixture("stored.npz"));
  ASSERT_EQ(z.size(), 2u);
  EXPECT_EQ(z["a"].values<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(z["b"].shape, (Shape{2, 2}));
  NpzArchive c = read_npz(fixture("compressed.npz"));
  EXPECT_EQ(c["x"].values<double>(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
}

TEST(Npz, WriteReadRoundTripStoredAndDeflated) {
  for (bool compress : {false, true}) {
    const std::string path = temp_path(compress ? "c.npz" : "s.npz");
    NpzArchive out;
    out["x"] = NpyArray::from_tensor(Tensor({3}, std::vector<float>{1, 2, 3}));
    out["y"] = NpyArray::from_values<uint8_t>({2}, {9, 8});
    write_npz(path, out, compress);
    NpzArchive in = read_npz(path);
    EXPECT_EQ(in["x"].values<float>(), (std::vector<float>{1, 2, 3}));
    EXPECT_EQ(in["y"].values<uint8_t>(), (std::vector<uint8_t>{9, 8}));
    std::remove(path.c_str());
  }
  const std::string bad = temp_path("corrupt.npz");
  std::ifstream in(fixture("stored.npz"), std::ios::binary);
  std::string whole((std::istreambuf_iterator<char>(in)), {});
  write_text(bad, whole.substr(0, whole.size() / 2));
  std::string msg = error_of([&] { read_npz(bad); });
  EXPECT_NE(msg.find(bad), std::string::npos) << msg;
  std::remove(bad.c_str());
}

TEST(Csv, HeaderQuotesCrlfAndNumbers) {
  CsvTable t = parse_csv("\"Date Time\",\"p (mbar)\",T\r\n01.01.2009 00:10:00,996.52,-8.02\r\n01.01.2009 00:20:00,996.57,-8.41\r\n",
                         [] {
                           CsvOptions o;
                           o.text = TextPolicy::drop;
                           return o;
                         }());
  EXPECT_EQ(t.columns, (std::vector<std::string>{"p (mbar)", "T"}));
  ASSERT_EQ(t.rows(), 2);
  EXPECT_FLOAT_EQ(t.column("T")[1], -8.41f);
  EXPECT_EQ(t.text["Date Time"][0], "01.01.2009 00:10:00");
  EXPECT_EQ(t.lines, (std::vector<int64_t>{2, 3}));
  EXPECT_THROW(t.column("nope"), Error);
}

TEST(Csv, MissingValuePolicies) {
  const std::string text = "a,b\n1,2\nNA,3\n4,\n5,6\n";
  std::string msg = error_of([&] { parse_csv(text, {}, "m.csv"); });
  EXPECT_NE(msg.find("m.csv: line 3, column \"a\""), std::string::npos) << msg;
  CsvOptions drop;
  drop.missing = MissingPolicy::drop_row;
  CsvTable d = parse_csv(text, drop);
  EXPECT_EQ(d.rows(), 2);
  EXPECT_EQ(d.lines, (std::vector<int64_t>{2, 5}));
  CsvOptions fill;
  fill.missing = MissingPolicy::fill;
  fill.fill_value = -1;
  CsvTable f = parse_csv(text, fill);
  EXPECT_EQ(f.rows(), 4);
  EXPECT_EQ(f.values[2], -1.0f);  // row 1, column a
  EXPECT_EQ(f.values[5], -1.0f);  // row 2, column b
}

TEST(Csv, TextColumnPolicies) {
  const std::string text = "x,wind,y\n1,NW,2\n3,cv,4\n5,NE,6\n7,NW,8\n";
  std::string msg = error_of([&] { parse_csv(text, {}, "w.csv"); });
  EXPECT_NE(msg.find("w.csv: line 2, column \"wind\": \"NW\" is not a number"), std::string::npos) << msg;
  CsvOptions hot;
  hot.text = TextPolicy::one_hot;
  CsvTable h = parse_csv(text, hot);
  EXPECT_EQ(h.columns, (std::vector<std::string>{"x", "wind_NE", "wind_NW", "wind_cv", "y"}));
  Tensor w = h.select({"wind_NE", "wind_NW", "wind_cv"});
  EXPECT_EQ((std::vector<float>(w.data(), w.data() + 6)), (std::vector<float>{0, 1, 0, 0, 0, 1}));
  CsvOptions dropped;
  dropped.text_columns["wind"] = TextPolicy::drop;
  dropped.usecols = {"y", "wind"};
  CsvTable d = parse_csv(text, dropped);
  EXPECT_EQ(d.columns, (std::vector<std::string>{"y"}));
  EXPECT_EQ(d.text["wind"][2], "NE");
}

TEST(Csv, RaggedRowsAndUnclosedQuotes) {
  std::string msg = error_of([] { parse_csv("a,b\n1,2\n3\n", {}, "r.csv"); });
  EXPECT_NE(msg.find("r.csv: line 3: 1 fields, the header has 2"), std::string::npos) << msg;
  EXPECT_THROW(parse_csv("a,b\n\"1,2\n"), Error);
  EXPECT_THROW(parse_csv(""), Error);
  EXPECT_THROW(read_csv(temp_path("missing.csv")), Error);
}

TEST(Idx, WrongMagicAndTruncatedGzip) {
  const std::string path = temp_path("labels.gz");
  auto write_gz = [&](const std::string& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  };
  write_gz(std::string("\x00\x00\x08\x01\x00\x00\x00\x03\x05\x00\x09", 11));
  Tensor y = datasets::read_idx_labels(path);
  EXPECT_EQ((std::vector<int32_t>(y.idata(), y.idata() + 3)), (std::vector<int32_t>{5, 0, 9}));
  std::string msg = error_of([&] { datasets::read_idx_images(path); });
  EXPECT_NE(msg.find("magic number 0x00000801, expected 0x00000803"), std::string::npos) << msg;
  write_gz(std::string("\x00\x00\x08\x01\x00\x00\x00\x04\x05\x00\x09", 11));
  EXPECT_NE(error_of([&] { datasets::read_idx_labels(path); }).find("promises 4 data bytes"), std::string::npos);
  // Cut the gzip stream itself.
  std::string big(100000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) % 251);
  write_gz(std::string("\x00\x00\x08\x01\x00\x01\x86\xa0", 8) + big);
  std::ifstream in(path, std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), {});
  in.close();
  write_text(path, gz.substr(0, gz.size() / 2));
  msg = error_of([&] { datasets::read_idx_labels(path); });
  EXPECT_NE(msg.find("corrupt or truncated gzip"), std::string::npos) << msg;
  std::remove(path.c_str());
}

TEST(Csv, OnlyDecimalNumbersAreNumbersAndOverflowIsAnError) {
  // strtod would read "nan", "inf" and "0x1p3": a NaN or infinity in the data poisons every later loss.
  data::CsvTable t = data::parse_csv("a,b\n1.5,-2e3\n.5,7.\n+3,1E-2\n", {}, "ok.csv");
  EXPECT_EQ(t.values[0], 1.5f);
  EXPECT_EQ(t.values[1], -2000.0f);
  EXPECT_EQ(t.values[2], 0.5f);
  EXPECT_EQ(t.values[3], 7.0f);
  EXPECT_EQ(t.values[4], 3.0f);
  EXPECT_FLOAT_EQ(t.values[5], 0.01f);
  for (const char* cell : {"nan", "inf", "-Infinity", "0x1p3", "1e", "e5", "."}) {
    try {
      data::parse_csv(std::string("a,b\n1,2\n3,") + cell + "\n", {}, "cells.csv");
      ADD_FAILURE() << cell << " was read as a number";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cells.csv: line 3, column \"b\": \"" + std::string(cell) + "\" is not a number"),
                std::string::npos) << e.what();
    }
  }
  try {
    data::parse_csv("a,b\n1,2\n3,1e999\n", {}, "big.csv");
    ADD_FAILURE() << "1e999 was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("big.csv: line 3, column \"b\": 1e999 is beyond float32's range"),
              std::string::npos) << e.what();
  }
}

TEST(Npy, AShapeWhoseSizeOverflowsIsAnErrorNotAnEmptyArray) {
  // (2^32, 2^32) float32 used to wrap to 0 elements, pass the size check and crash predict later.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += char(header.size() & 0xff);
  bytes += char(header.size() >> 8);
  bytes += header;
  try {
    data::parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "huge.npy");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("64-bit"), std::string::npos) << e.what();
  }
}

TEST(Csv, AGzippedFileIsReadByItsBytesWhateverItsName) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("seqnet_csv_gz_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string text = "a,b\n1,2\n3,4\n";
  gzFile f = gzopen((dir / "station.csv.gz").c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, text.data(), unsigned(text.size()));
  gzclose(f);
  data::CsvTable t = data::read_csv((dir / "station.csv.gz").string());
  EXPECT_EQ(t.columns, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.values[3], 4.0f);
  std::ofstream(dir / "plain.csv") << text;
  EXPECT_EQ(data::read_csv((dir / "plain.csv").string()).values[2], 3.0f);
  fs::remove_all(dir);
}
