// History as CSV / JSON, and its figures drawn with cairo.
#include <algorithm>
#include <cairo-svg.h>
#include <cairo.h>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/json_numbers.h"
#include "seqnet/history.h"
#include "seqnet/saving.h"

namespace seqnet {

namespace {
std::string py_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}
}  // namespace

void write_history_csv(const History& h, const std::string& path) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : h.history) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  std::string out = "epoch";
  for (const auto& k : keys) out += "," + k;
  out += "\n";
  for (size_t i = 0; i < h.epoch.size(); ++i) {
    out += std::to_string(h.epoch[i]);
    for (const auto& k : keys) {
      const auto& v = h[k];
      out += "," + (i < v.size() ? py_float(v[i]) : std::string("NA"));
    }
    out += "\n";
  }
  write_file_atomic(path, out);
}

void write_history_json(const History& h, const std::string& path) {
  nlohmann::ordered_json j;
  j["epoch"] = h.epoch;
  j["history"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : h.history) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (double x : v) arr.push_back(std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr));
    j["history"][k] = arr;
  }
  write_file_atomic(path, j.dump(1) + "\n");
}

History read_history_csv(const std::string& path) {
  std::istringstream in(read_file_bytes(path));
  std::string line;
  if (!std::getline(in, line)) throw Error(path + ": empty history file");
  char sep = line.find(';') != std::string::npos && line.find(',') == std::string::npos ? ';' : ',';
  auto split = [sep](const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
      if (c == sep) {
        out.push_back(cur);
        cur.clear();
      } else if (c != '\r') {
        cur += c;
      }
    }
    out.push_back(cur);
    return out;
  };
  auto header = split(line);
  if (header.empty() || header[0] != "epoch") throw Error(path + ": the first column of a history CSV must be 'epoch'");
  History h;
  for (size_t i = 1; i < header.size(); ++i) h.history.emplace_back(header[i], std::vector<double>{});
  int row = 1;
  while (std::getline(in, line)) {
    ++row;
    if (line.empty() || line == "\r") continue;
    auto cells = split(line);
    if (cells.size() != header.size())
      throw Error(fmt::format("{}: line {} has {} cells, the header has {}", path, row, cells.size(), header.size()));
    // The whole cell must be the number: stoi("3x") would read 3 and say nothing.
    auto whole = [&](const std::string& cell, auto parse) {
      size_t used = 0;
      try {
        const auto v = parse(cell, &used);
        if (used == cell.size()) return v;
      } catch (const std::exception&) {
      }
      throw Error(fmt::format("{}: line {}: \"{}\" is not a number", path, row, cell));
    };
    h.epoch.push_back(whole(cells[0], [](const std::string& c, size_t* u) { return std::stoi(c, u); }));
    for (size_t i = 1; i < cells.size(); ++i)
      h.history[i - 1].second.push_back(cells[i] == "NA" || cells[i] == "nan"
                                            ? std::nan("")
                                            : whole(cells[i], [](const std::string& c, size_t* u) { return std::stod(c, u); }));
  }
  return h;
}

History read_history_json(const std::string& path) {
  try {
    auto j = nlohmann::ordered_json::parse(read_file_bytes(path));
    History h;
    h.epoch = whole_numbers_at<int>(j.at("epoch"), path + ": epoch");
    for (auto& [k, v] : j.at("history").items()) {
      std::vector<double> vals;
      for (auto& x : v) vals.push_back(x.is_null() ? std::nan("") : x.get<double>());
      if (vals.size() != h.epoch.size())
        throw Error(fmt::format("{}: history '{}' holds {} values for {} epochs", path, k, vals.size(), h.epoch.size()));
      h.history.emplace_back(k, vals);
    }
    return h;
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not a seqnet history JSON file: " + e.what());
  }
}

// ---------------- figures ----------------

namespace {

struct Ticks {
  double lo, hi, step;
};

// "Nice" ticks (1, 2, 5 x 10^k) covering [lo, hi] with about `target` intervals.
Ticks nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) {
    double pad = std::abs(lo) > 0 ? std::abs(lo) * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  double raw = (hi - lo) / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step, step};
}

std::string tick_label(double v, double step) {
  int decimals = std::max(0, int(std::ceil(-std::log10(step) - 1e-9)));
  if (step * std::pow(10.0, decimals) != std::round(step * std::pow(10.0, decimals))) ++decimals;
  if (std::abs(v) < step * 1e-6) v = 0;
  return fmt::format("{:.{}f}", v, decimals);
}

std::string pretty_name(const std::string& key) {
  if (key == "acc" || key == "accuracy") return "accuracy";
  if (key == "mae") return "MAE";
  if (key == "mse") return "MSE";
  std::string s = key;
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

void text(cairo_t* cr, double x, double y, const std::string& s, double align_x, double align_y) {
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  cairo_move_to(cr, x - ext.width * align_x - ext.x_bearing, y - ext.height * align_y - ext.y_bearing);
  cairo_show_text(cr, s.c_str());
}

void draw_figure(cairo_t* cr, int W, int H, const std::string& metric, const std::vector<int>& epochs,
                 const std::vector<double>& train, const std::vector<double>* val) {
  const double left = 78, right = 24, top = 46, bottom = 58;
  const double pw = W - left - right, ph = H - top - bottom;
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

  // Book-style x axis: epochs counted from 1.
  std::vector<double> xs;
  for (int e : epochs) xs.push_back(double(e + 1));
  double ymin = INFINITY, ymax = -INFINITY;
  auto scan = [&](const std::vector<double>& v) {
    for (double y : v)
      if (std::isfinite(y)) ymin = std::min(ymin, y), ymax = std::max(ymax, y);
  };
  scan(train);
  if (val) scan(*val);
  if (!std::isfinite(ymin)) ymin = 0, ymax = 1;
  double xmin = xs.empty() ? 1 : xs.front(), xmax = xs.empty() ? 1 : xs.back();
  Ticks xt = nice_ticks(xmin, xmax, std::min<int>(8, std::max<int>(1, int(xmax - xmin))));
  if (xt.step < 1) xt = {std::floor(xmin), std::ceil(xmax), 1};
  double xpad = (xmax - xmin) * 0.05 + 0.25;
  double x0 = xmin - xpad, x1 = xmax + xpad;
  double ypad = (ymax - ymin) * 0.06;
  if (ypad == 0) ypad = std::abs(ymax) * 0.05 + 0.05;
  double y0 = ymin - ypad, y1 = ymax + ypad;
  Ticks yt = nice_ticks(y0, y1, 6);
  auto X = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto Y = [&](double y) { return top + ph - (y - y0) / (y1 - y0) * ph; };

  // Grid and ticks.
  cairo_set_font_size(cr, 12);
  cairo_set_line_width(cr, 1);
  for (double v = yt.lo; v <= yt.hi + yt.step * 1e-9; v += yt.step) {
    if (v < y0 || v > y1) continue;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, left, std::round(Y(v)) + 0.5);
    cairo_line_to(cr, left + pw, std::round(Y(v)) + 0.5);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_move_to(cr, left - 5, std::round(Y(v)) + 0.5);
    cairo_line_to(cr, left, std::round(Y(v)) + 0.5);
    cairo_stroke(cr);
    text(cr, left - 8, Y(v), tick_label(v, yt.step), 1.0, 0.5);
  }
  for (double v = xt.lo; v <= xt.hi + 1e-9; v += xt.step) {
    if (v < x0 || v > x1) continue;
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_move_to(cr, std::round(X(v)) + 0.5, top + ph);
    cairo_line_to(cr, std::round(X(v)) + 0.5, top + ph + 5);
    cairo_stroke(cr);
    text(cr, X(v), top + ph + 9, tick_label(v, xt.step), 0.5, 0.0);
  }
  // Frame.
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cairo_rectangle(cr, left + 0.5, top + 0.5, pw, ph);
  cairo_stroke(cr);

  // Data: validation as a line, training as dots (the book's 'b' and 'bo').
  cairo_save(cr);
  cairo_rectangle(cr, left, top, pw, ph);
  cairo_clip(cr);
  const double blue[3] = {0.12, 0.35, 0.75}, orange[3] = {0.85, 0.4, 0.05};
  if (val) {
    cairo_set_source_rgb(cr, orange[0], orange[1], orange[2]);
    cairo_set_line_width(cr, 2);
    bool pen = false;
    for (size_t i = 0; i < xs.size() && i < val->size(); ++i) {
      if (!std::isfinite((*val)[i])) {
        pen = false;
        continue;
      }
      if (pen) cairo_line_to(cr, X(xs[i]), Y((*val)[i]));
      else cairo_move_to(cr, X(xs[i]), Y((*val)[i]));
      pen = true;
    }
    cairo_stroke(cr);
  }
  cairo_set_source_rgb(cr, blue[0], blue[1], blue[2]);
  for (size_t i = 0; i < xs.size() && i < train.size(); ++i) {
    if (!std::isfinite(train[i])) continue;
    cairo_arc(cr, X(xs[i]), Y(train[i]), 3.5, 0, 2 * M_PI);
    cairo_fill(cr);
  }
  cairo_restore(cr);

  // Title and axis labels.
  std::string name = pretty_name(metric);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_font_size(cr, 16);
  text(cr, left + pw / 2, top / 2, val ? "Training and validation " + name : "Training " + name, 0.5, 0.5);
  cairo_set_font_size(cr, 13);
  text(cr, left + pw / 2, H - 12, "Epochs", 0.5, 1.0);
  cairo_save(cr);
  cairo_translate(cr, 18, top + ph / 2);
  cairo_rotate(cr, -M_PI / 2);
  text(cr, 0, 0, name[0] == 'M' ? name : std::string(1, char(std::toupper(name[0]))) + name.substr(1), 0.5, 0.5);
  cairo_restore(cr);

  // Legend, top right inside the plot.
  cairo_set_font_size(cr, 12);
  std::string l1 = "Training " + name, l2 = "Validation " + name;
  cairo_text_extents_t e1, e2;
  cairo_text_extents(cr, l1.c_str(), &e1);
  cairo_text_extents(cr, l2.c_str(), &e2);
  double lw = std::max(e1.width, val ? e2.width : 0.0) + 46, lh = val ? 44 : 24;
  double lx = left + pw - lw - 10, ly = top + 10;
  // Put the legend where the data is not: bottom right when the curves end high.
  if (!train.empty() && std::isfinite(train.back()) && Y(train.back()) < top + ph / 2) ly = top + ph - lh - 10;
  cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
  cairo_rectangle(cr, lx, ly, lw, lh);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, blue[0], blue[1], blue[2]);
  cairo_arc(cr, lx + 18, ly + 12, 3.5, 0, 2 * M_PI);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  text(cr, lx + 36, ly + 12, l1, 0.0, 0.5);
  if (val) {
    cairo_set_source_rgb(cr, orange[0], orange[1], orange[2]);
    cairo_set_line_width(cr, 2);
    cairo_move_to(cr, lx + 8, ly + 32);
    cairo_line_to(cr, lx + 28, ly + 32);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, lx + 36, ly + 32, l2, 0.0, 0.5);
  }
}

std::string file_stem(const std::string& key) {
  std::string s;
  for (char c : key) s += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_';
  return s;
}

}  // namespace

namespace {
// Cairo writes a figure through this into memory; the file is then written atomically and checked.
cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}
}  // namespace

std::vector<std::string> plot_history(const History& h, const std::string& out_dir, PlotOptions o) {
  if (o.width < 200 || o.height < 150) throw Error(fmt::format("plot_history: {}x{} is too small for a figure", o.width, o.height));
  std::filesystem::create_directories(out_dir);
  std::vector<std::string> files;
  for (const auto& [key, values] : h.history) {
    if (key.rfind("val_", 0) == 0 && h.contains(key.substr(4))) continue;  // drawn with its training key
    const std::vector<double>* val = h.contains("val_" + key) ? &h["val_" + key] : nullptr;
    std::string stem = (std::filesystem::path(out_dir) / file_stem(key)).string();
    if (o.png) {
      cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, o.width, o.height);
      cairo_t* cr = cairo_create(s);
      draw_figure(cr, o.width, o.height, key, h.epoch, values, val);
      cairo_destroy(cr);
      std::string bytes;
      cairo_status_t st = cairo_surface_write_to_png_stream(s, append_bytes, &bytes);
      cairo_surface_destroy(s);
      if (st != CAIRO_STATUS_SUCCESS)
        throw Error(fmt::format("cannot draw '{}.png': {}", stem, cairo_status_to_string(st)));
      write_file_atomic(stem + ".png", bytes);
      files.push_back(stem + ".png");
    }
    if (o.svg) {
      std::string bytes;
      cairo_surface_t* s = cairo_svg_surface_create_for_stream(append_bytes, &bytes, o.width, o.height);
      cairo_t* cr = cairo_create(s);
      draw_figure(cr, o.width, o.height, key, h.epoch, values, val);
      cairo_destroy(cr);
      cairo_surface_finish(s);
      cairo_status_t st = cairo_surface_status(s);
      cairo_surface_destroy(s);
      if (st != CAIRO_STATUS_SUCCESS)
        throw Error(fmt::format("cannot draw '{}.svg': {}", stem, cairo_status_to_string(st)));
      write_file_atomic(stem + ".svg", bytes);
      files.push_back(stem + ".svg");
    }
  }
  return files;
}

}  // namespace seqnet
