// A series from many CSV files with gaps: every missing-value policy by hand, the errors that name file,
// line and column, compressed files by content, globs, and the generator's promise that no window and no
// target ever spans a gap or a file boundary.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <set>

#include "fixtures.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::data;
using seqnet::testing::error_of;
using seqnet::testing::temp_dir;
namespace fs = std::filesystem;

namespace {

void write_gzip(const fs::path& path, const std::string& text) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, text.data(), unsigned(text.size())), int(text.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

// One compressed stream (no archive format) through libarchive's writer: bzip2, xz, zstd.
void write_compressed(const fs::path& path, const std::string& text, int (*add_filter)(archive*)) {
  archive* a = archive_write_new();
  ASSERT_EQ(add_filter(a), ARCHIVE_OK);
  ASSERT_EQ(archive_write_set_format_raw(a), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "data");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, la_int64_t(text.size()));
  ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
  ASSERT_EQ(archive_write_data(a, text.data(), text.size()), la_ssize_t(text.size()));
  archive_entry_free(e);
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

// A station file: "row" counts the hours across files (file k starts at 1000 k), TEMP a ramp, "pm" (never
// selected) NA everywhere but row 0. `gaps` rows get NA in TEMP.
std::string station_csv(int file, int rows, const std::set<int>& gaps) {
  std::string s = "row,TEMP,pm,wd\n";
  for (int r = 0; r < rows; ++r)
    s += fmt::format("{},{},{},{}\n", 1000 * file + r, gaps.count(r) ? "NA" : fmt::format("{:.1f}", 0.5 * r),
                     r == 0 ? "3" : "NA", r % 2 ? "NW" : "SE");
  return s;
}

}  // namespace

TEST(Series, InterpolateFillsShortGapsLinearlyAndDropsLongOnes) {
  const fs::path dir = temp_dir("series_interp");
  std::ofstream(dir / "a.csv") << "t,x\n0,1\n1,NA\n2,NA\n3,7\n4,NA\n5,NA\n6,NA\n7,9\n8,10\n";
  SeriesOptions o;
  o.columns = {"x"};
  o.missing = {GapPolicy::interpolate, 0.0f, 2};
  Series s = read_series({(dir / "a.csv").string()}, o);
  ASSERT_EQ(s.rows(), 9);
  EXPECT_FLOAT_EQ(s.values[1], 3.0f);
  EXPECT_FLOAT_EQ(s.values[2], 5.0f);
  EXPECT_TRUE(std::isnan(s.values[4]));  // a gap of 3 > max_gap 2: dropped, and the series split there
  EXPECT_EQ(s.gaps[0].missing, 5);
  EXPECT_EQ(s.gaps[0].filled, 2);
  EXPECT_EQ(s.dropped_rows, 3);
  EXPECT_EQ(s.runs, (std::vector<std::pair<int64_t, int64_t>>{{0, 4}, {7, 9}}));
  EXPECT_EQ(s.summary(), "9 rows, 2 NA in x interpolated, 3 dropped (2 unbroken runs)");
  fs::remove_all(dir);
}

TEST(Series, FfillFillAndDropDoWhatTheySay) {
  const fs::path dir = temp_dir("series_policies");
  std::ofstream(dir / "a.csv") << "a,b,c\nNA,1,1\n2,NA,2\n3,3,NA\n4,NA,4\n";
  SeriesOptions o;
  o.columns = {"a", "b", "c"};
  o.missing_columns["a"] = {GapPolicy::ffill};  // a leading gap has nothing to carry: its row is dropped
  o.missing_columns["b"] = {GapPolicy::fill, -1.0f};
  o.missing_columns["c"] = {GapPolicy::drop};
  Series s = read_series({(dir / "a.csv").string()}, o);
  EXPECT_EQ(s.dropped_rows, 2);  // row 0 (a), row 2 (c)
  EXPECT_EQ(s.runs, (std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {3, 4}}));
  EXPECT_FLOAT_EQ(s.values[1 * 3 + 1], -1.0f);
  EXPECT_FLOAT_EQ(s.values[3 * 3 + 1], -1.0f);
  EXPECT_TRUE(s.dropped(0));
  EXPECT_FALSE(s.dropped(1));
  EXPECT_TRUE(s.dropped(2));
  EXPECT_EQ(s.summary(), "4 rows, 2 NA in b filled, 2 dropped (2 unbroken runs)");
  o.missing_columns["a"] = {GapPolicy::ffill};
  std::ofstream(dir / "b.csv") << "a,b,c\n1,1,1\nNA,1,1\nNA,1,1\n4,1,1\n";
  Series f = read_series({(dir / "b.csv").string()}, o);
  EXPECT_FLOAT_EQ(f.values[1 * 3], 1.0f);
  EXPECT_FLOAT_EQ(f.values[2 * 3], 1.0f);
  EXPECT_EQ(f.summary(), "4 rows, 2 NA in a carried forward, 0 dropped");
  fs::remove_all(dir);
}

TEST(Series, FailIsTheDefaultAndNamesFileLineColumnAndCount) {
  const fs::path dir = temp_dir("series_fail");
  const std::string path = (dir / "st.csv").string();
  std::ofstream(path) << station_csv(0, 10, {4, 7});
  SeriesOptions o;
  o.columns = {"row", "TEMP"};
  EXPECT_EQ(error_of([&] { read_series({path}, o); }),
            path + ": line 6, column \"TEMP\": missing value (2 missing in this column; choose a policy: drop, "
                   "interpolate, ffill or fill)");
  // The NA-riddled "pm" and the text column "wd" are not selected: not checked, nothing dropped for them.
  o.missing = {GapPolicy::drop};
  Series s = read_series({path}, o);
  EXPECT_EQ(s.dropped_rows, 2);
  o.columns = {"row", "pm"};
  EXPECT_EQ(read_series({path}, o).dropped_rows, 9);
  fs::remove_all(dir);
}

TEST(Series, BadCellsAreErrorsNotDroppedColumns) {
  const fs::path dir = temp_dir("series_bad");
  const std::string path = (dir / "st.csv").string();
  std::ofstream(path) << "a,b\n1,2\n3,x7\n5,6\n";
  SeriesOptions o;
  o.columns = {"a", "b"};
  EXPECT_EQ(error_of([&] { read_series({path}, o); }),
            path + ": line 3, column \"b\": \"x7\" is not a number (choose a text policy: one_hot or drop)");
  std::ofstream(path) << "a,b\n1,2\n3,1e999\n";
  EXPECT_EQ(error_of([&] { read_series({path}, o); }), path + ": line 3, column \"b\": 1e999 is beyond float32's range");
  for (const char* cell : {"nan", "inf", "-inf", "0x1p3"}) {
    std::ofstream(path) << "a,b\n1,2\n3," << cell << "\n";
    EXPECT_NE(error_of([&] { read_series({path}, o); }).find("is not a number"), std::string::npos) << cell;
  }
  o.columns = {"a", "c"};
  EXPECT_EQ(error_of([&] { read_series({path}, o); }), path + ": no column \"c\" in the header");
  std::ofstream(path) << "a,b\n1,2\n";
  o.columns = {"a"};
  o.missing_columns["b"] = {GapPolicy::drop};
  EXPECT_NE(error_of([&] { read_series({path}, o); }).find("column \"b\", which is not read"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Series, AllNaColumnIsAnError) {
  const fs::path dir = temp_dir("series_allna");
  const std::string path = (dir / "st.csv").string();
  std::ofstream(path) << station_csv(0, 10, {});
  SeriesOptions o;
  o.columns = {"row", "pm"};
  o.missing = {GapPolicy::fill, 0.0f};
  // Row 0 has a value: fill the rest. Then a file where pm is NA throughout.
  EXPECT_EQ(read_series({path}, o).gaps[1].filled, 9);
  std::ofstream(path) << "row,pm\n0,NA\n1,NA\n";
  // fill says what to put even there (a station without that sensor); any other policy has nothing to work from.
  EXPECT_EQ(read_series({path}, o).gaps[1].filled, 2);
  o.missing = {GapPolicy::interpolate};
  EXPECT_EQ(error_of([&] { read_series({path}, o); }), path + ": column \"pm\" has no value (all 2 rows missing)");
  fs::remove_all(dir);
}

TEST(Series, CompressedFilesAreReadByContent) {
  const fs::path dir = temp_dir("series_compressed");
  const std::string text = station_csv(0, 6, {});
  write_gzip(dir / "a.csv.gz", text);
  write_gzip(dir / "gzip_named_plain.csv", text);
  write_compressed(dir / "b.csv.bz2", text, archive_write_add_filter_bzip2);
  write_compressed(dir / "c.csv.xz", text, archive_write_add_filter_xz);
  std::ofstream(dir / "d.csv") << text;
  SeriesOptions o;
  o.columns = {"row", "TEMP"};
  for (const char* f : {"a.csv.gz", "gzip_named_plain.csv", "b.csv.bz2", "c.csv.xz", "d.csv"}) {
    Series s = read_series({(dir / f).string()}, o);
    ASSERT_EQ(s.rows(), 6) << f;
    EXPECT_FLOAT_EQ(s.values[5 * 2 + 1], 2.5f) << f;
  }
  fs::remove_all(dir);
}

TEST(Series, GlobsExpandSortedAndAMissMatchIsAnError) {
  const fs::path dir = temp_dir("series_glob");
  for (const char* f : {"s2.csv", "s10.csv", "s1.csv", "other.txt"}) std::ofstream(dir / f) << "a\n1\n";
  EXPECT_EQ(expand_paths({(dir / "s*.csv").string()}),
            (std::vector<std::string>{(dir / "s1.csv").string(), (dir / "s10.csv").string(), (dir / "s2.csv").string()}));
  EXPECT_EQ(expand_paths({"plain/name.csv"}), (std::vector<std::string>{"plain/name.csv"}));
  EXPECT_EQ(error_of([&] { expand_paths({(dir / "*.parquet").string()}); }),
            "'" + (dir / "*.parquet").string() + "' matches no file");
  fs::remove_all(dir);
}

// Two gzip'd stations with gaps: every window the generator can produce reads consecutive hours of one file,
// and its target too.
TEST(Series, NoWindowOrTargetSpansAGapOrAFileBoundary) {
  const fs::path dir = temp_dir("series_windows");
  write_gzip(dir / "station_0.csv.gz", station_csv(0, 120, {10, 11, 50, 51, 52, 53, 54, 55, 56, 57, 58, 100}));
  write_gzip(dir / "station_1.csv.gz", station_csv(1, 90, {40, 41, 42, 43, 44, 45, 46, 47}));
  SeriesOptions o;
  o.columns = {"row", "TEMP"};
  o.missing = {GapPolicy::interpolate, 0.0f, 3};
  Series s = read_series(expand_paths({(dir / "station_*.csv.gz").string()}), o);
  EXPECT_EQ(s.rows(), 210);
  EXPECT_EQ(s.dropped_rows, 9 + 8);  // the gaps longer than 3 hours
  EXPECT_EQ(s.summary(), "2 files, 210 rows, 3 NA in TEMP interpolated, 17 dropped (4 unbroken runs)");
  for (bool shuffle : {false, true}) {
    GeneratorOptions g;
    g.lookback = 12;
    g.step = 2;
    g.delay = 5;
    g.batch_size = 7;
    g.target_column = 0;  // the target is the row id itself: it shows where the target was read
    g.runs = s.runs;
    g.shuffle = shuffle;
    g.seed = 3;
    TimeseriesGenerator gen(s.values, g);
    // Runs: [0, 50), [59, 120), [120, 160), [168, 210); anchors [b + 12, e - 5) of each.
    EXPECT_EQ(gen.anchors(), (50 - 17) + (61 - 17) + (40 - 17) + (42 - 17));
    int64_t seen = 0;
    for (int64_t batch = 0; batch < 40; ++batch) {
      auto [x, y] = gen.next_batch();
      for (int64_t j = 0; j < x.dim(0); ++j, ++seen) {
        const float first = x[j * 6 * 2];
        for (int64_t t = 0; t < 6; ++t) EXPECT_EQ(x[(j * 6 + t) * 2], first + float(2 * t)) << "a gap in a window";
        EXPECT_EQ(y[j], first + 12.0f + 5.0f) << "the target is not delay rows after the anchor";
        // Same file (ids 0..119 vs 1000..1089), and no dropped hour between the window's start and its target.
        const int64_t id0 = int64_t(first), id1 = int64_t(y[j]);
        EXPECT_EQ(id0 / 1000, id1 / 1000);
        for (const auto& [a, b] : std::vector<std::pair<int, int>>{{50, 59}, {1040, 1048}})
          EXPECT_FALSE(id0 < b && id1 >= a) << id0 << " .. " << id1 << " spans the dropped rows " << a << ".." << b;
      }
    }
    EXPECT_GT(seen, 200);
  }
  fs::remove_all(dir);
}

TEST(Series, TextColumnsOneHotOrCategoryIds) {
  const fs::path dir = temp_dir("series_text");
  const std::string a = (dir / "a.csv").string(), b = (dir / "b.csv").string();
  std::ofstream(a) << "t,wd\n1,NW\n2,SE\n3,NA\n4,cv\n";
  std::ofstream(b) << "t,wd\n5,NE\n6,NW\n";
  SeriesOptions o;
  o.columns = {"wd", "t"};
  o.text_columns["wd"] = {};
  o.missing_columns["wd"] = {GapPolicy::ffill};
  Series s = read_series({a, b}, o);
  // Categories of every file, sorted; the columns in the text column's place.
  EXPECT_EQ(s.categories["wd"], (std::vector<std::string>{"NE", "NW", "SE", "cv"}));
  EXPECT_EQ(s.columns, (std::vector<std::string>{"wd_NE", "wd_NW", "wd_SE", "wd_cv", "t"}));
  const std::vector<float> row2 = {s.values[2 * 5], s.values[2 * 5 + 1], s.values[2 * 5 + 2], s.values[2 * 5 + 3]};
  EXPECT_EQ(row2, (std::vector<float>{0, 0, 1, 0}));  // NA carried forward from SE
  EXPECT_EQ(s.summary(), "2 files, 6 rows, 1 NA in wd carried forward, 0 dropped");
  // Category ids from a given list: 0 for a category not in it, and the log says how many.
  o.text_columns["wd"] = {TextEncoding::category, {"NW", "SE"}};
  s = read_series({a, b}, o);
  EXPECT_EQ(s.columns, (std::vector<std::string>{"wd", "t"}));
  std::vector<float> ids;
  for (int64_t r = 0; r < 6; ++r) ids.push_back(s.values[r * 2]);
  EXPECT_EQ(ids, (std::vector<float>{1, 2, 2, 0, 0, 1}));
  EXPECT_EQ(s.unknown_categories, 2);
  EXPECT_NE(s.summary().find("2 cells of a category not in the list"), std::string::npos) << s.summary();
  o.missing_columns["wd"] = {GapPolicy::interpolate};
  EXPECT_EQ(error_of([&] { read_series({a}, o); }),
            "read_series: text column \"wd\": missing categories can fail, drop their rows or ffill, not interpolate");
  // Without a text encoding, a text column is an error naming the cell, never a silently dropped column.
  o = SeriesOptions{};
  o.columns = {"wd"};
  EXPECT_EQ(error_of([&] { read_series({a}, o); }),
            a + ": line 2, column \"wd\": \"NW\" is not a number (choose a text policy: one_hot or drop)");
  fs::remove_all(dir);
}

TEST(Series, TimeFeaturesFromADateColumnOrFromParts) {
  const fs::path dir = temp_dir("series_time");
  const std::string iso = (dir / "iso.csv").string(), jena = (dir / "jena.csv").string(), parts = (dir / "parts.csv").string();
  std::ofstream(iso) << "when,x\n2010-01-01 00:00,1\n2010-01-01T06:00:00,2\n2012-12-31 18:00,3\n2010-07-02,4\n";
  std::ofstream(jena) << "Date Time,x\n01.01.2010 00:00:00,1\n01.01.2010 06:00:00,2\n31.12.2012 18:00:00,3\n02.07.2010 00:00:00,4\n";
  std::ofstream(parts) << "year,month,day,hour,x\n2010,1,1,0,1\n2010,1,1,6,2\n2012,12,31,18,3\n2010,7,2,0,4\n";
  SeriesOptions o;
  o.columns = {"x"};
  const double pi = 3.141592653589793;
  for (int form = 0; form < 3; ++form) {
    TimeFeatures tf;
    if (form == 0) tf.column = "when";
    if (form == 1) tf.column = "Date Time";
    if (form == 2) tf = {"", "year", "month", "day", "hour"};
    o.time = tf;
    Series s = read_series({form == 0 ? iso : form == 1 ? jena : parts}, o);
    ASSERT_EQ(s.columns, (std::vector<std::string>{"x", "hour_sin", "hour_cos", "day_sin", "day_cos"})) << form;
    auto at = [&](int64_t r, int64_t c) { return double(s.values[r * 5 + c]); };
    EXPECT_NEAR(at(0, 1), 0.0, 1e-6);  // midnight, 1 January
    EXPECT_NEAR(at(0, 2), 1.0, 1e-6);
    EXPECT_NEAR(at(0, 3), 0.0, 1e-6);
    EXPECT_NEAR(at(0, 4), 1.0, 1e-6);
    EXPECT_NEAR(at(1, 1), 1.0, 1e-6);  // 06:00: a quarter of the day
    EXPECT_NEAR(at(1, 2), 0.0, 1e-6);
    EXPECT_NEAR(at(2, 1), -1.0, 1e-6);  // 18:00
    // 2012 is a leap year: 31 December 18:00 is day 365.75 of 366.
    EXPECT_NEAR(at(2, 3), std::sin(2 * pi * 365.75 / 366), 1e-6);
    EXPECT_NEAR(at(3, 4), std::cos(2 * pi * 182 / 365), 1e-6);  // 2 July 2010: day 182 (0-based)
  }
  std::ofstream(iso) << "when,x\n2010-01-01 00:00,1\n2010-02-30 06:00,2\n";
  o.time = TimeFeatures{"when"};
  EXPECT_EQ(error_of([&] { read_series({iso}, o); }),
            iso + ": line 3, column \"when\": \"2010-02-30 06:00\" is not a date and time (ISO 8601 such as 2010-01-02 "
                  "03:00, or 02.01.2010 03:00:00)");
  std::ofstream(iso) << "when,x\n2010-01-01 00:00,1\nNA,2\n2010-01-01 02:00,3\n";
  o.missing_columns["when"] = {GapPolicy::drop};
  EXPECT_EQ(read_series({iso}, o).dropped_rows, 1);
  // From parts: a drop policy on any of them drops a row with a part missing; numbers beyond a calendar fail.
  std::ofstream(parts) << "year,month,day,hour,x\n2010,1,1,0,1\n2010,NA,1,1,2\n2010,1e30,1,2,3\n";
  o.missing_columns.clear();
  o.missing_columns["month"] = {GapPolicy::drop};
  o.time = TimeFeatures{"", "year", "month", "day", "hour"};
  EXPECT_NE(error_of([&] { read_series({parts}, o); }).find("line 4, column \"year/month/day/hour\""), std::string::npos);
  std::ofstream(parts) << "year,month,day,hour,x\n2010,1,1,0,1\n2010,NA,1,1,2\n2010,1,1,2,3\n";
  EXPECT_EQ(read_series({parts}, o).dropped_rows, 1);
  fs::remove_all(dir);
}
