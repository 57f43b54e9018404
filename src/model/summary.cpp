// model.summary(): Keras 3's table (keras/src/utils/summary_utils.py), drawn with the same box characters
// rich uses, the same column split and the same totals lines.
#include <cstdio>
#include <fmt/format.h>
#include <iostream>

#include "seqnet/console.h"
#include "seqnet/model.h"

namespace seqnet {

namespace {

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string readable_memory_size(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 5) bytes /= 1024.0, ++u;
  return fmt::format("{:.2f} {}", bytes, units[u]);
}

// Counts display cells of a UTF-8 string (our strings only use 1-cell characters).
size_t cells(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string repeat(const char* glyph, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += glyph;
  return s;
}

// A cell's lines: words wrapped at spaces to `width` cells; a word longer than a line is cut with an ellipsis
// (rich's default overflow, which Keras's table keeps).
std::vector<std::string> wrap(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  std::string line;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(start, end - start);
    if (cells(word) > width) word = word.substr(0, width - 1) + "…";
    if (line.empty()) line = word;
    else if (cells(line) + 1 + cells(word) <= width) line += " " + word;
    else lines.push_back(line), line = word;
    start = end + 1;
  }
  lines.push_back(line);
  return lines;
}

struct Table {
  std::vector<size_t> widths;      // inner widths (without the padding)
  std::vector<bool> right_align;   // Param # is right-aligned
  std::string out;

  std::string border(const char* left, const char* fill, const char* mid, const char* right) const {
    std::string s = left;
    for (size_t i = 0; i < widths.size(); ++i) {
      s += repeat(fill, widths[i] + 2);
      s += i + 1 < widths.size() ? mid : right;
    }
    return s + "\n";
  }
  void row(const std::vector<std::string>& values, const char* sep) {
    std::vector<std::vector<std::string>> wrapped;
    size_t height = 1;
    for (size_t i = 0; i < values.size(); ++i) {
      wrapped.push_back(wrap(values[i], widths[i]));
      height = std::max(height, wrapped.back().size());
    }
    for (size_t line = 0; line < height; ++line) {
      std::string s = sep;
      for (size_t i = 0; i < values.size(); ++i) {
        std::string text = line < wrapped[i].size() ? wrapped[i][line] : "";
        std::string pad(widths[i] - std::min(widths[i], cells(text)), ' ');
        s += " " + (right_align[i] ? pad + text : text + pad) + " " + sep;
      }
      out += s + "\n";
    }
  }
};

}  // namespace

std::string summary_table(const Model& model, int line_length) {
  // Keras prints a chain of layers "sequential-like" (three columns; a functional chain also lists its
  // InputLayer first); any other graph with a fourth column, "Connected to": each call's input tensors as
  // layer[call][output].
  bool chain = model.is_sequential() || !model.built() || (model.num_inputs() == 1 && model.num_outputs() == 1);
  for (const auto& st : model.steps_) chain = chain && st.inputs.size() <= 1 && st.call_index == 0;
  if (line_length <= 0) line_length = chain ? 88 : 108;
  if (line_length > 10000)  // the table is drawn in memory: a typo must not ask for gigabytes
    throw Error("summary: line_length " + std::to_string(line_length) + " is wider than any screen (at most 10000)");
  const std::vector<double> positions = chain ? std::vector<double>{0.45, 0.80, 1.0} : std::vector<double>{0.3, 0.56, 0.74, 1.0};
  Table t;
  // Keras splits the width at fixed fractions; rich then takes 3 cells per column for padding and
  // border and gives back any excess from the column before the last.
  int prev = 0, drawn = 1;
  for (double p : positions) {
    int width = std::max(4, int(p * line_length) - prev);
    prev += width;
    t.widths.push_back(size_t(width - 3));
    drawn += width;
  }
  const size_t giver = t.widths.size() - 2;  // the middle of three columns, "Param #" of four
  if (drawn > line_length) t.widths[giver] -= size_t(std::min<int>(drawn - line_length, int(t.widths[giver]) - 1));
  t.right_align = {false, false, true, false};

  std::string header = fmt::format("Model: \"{}\"\n", model.name());
  t.out += t.border("┏", "━", "┳", "┓");
  if (chain) t.row({"Layer (type)", "Output Shape", "Param #"}, "┃");
  else t.row({"Layer (type)", "Output Shape", "Param #", "Connected to"}, "┃");
  t.out += t.border("┡", "━", "╇", "┩");
  std::vector<std::vector<std::string>> rows;
  auto tensor_name = [&](const Model::TensorRef& r) {
    const auto& src = model.steps_[size_t(r.step)];
    const std::string name = src.layer ? src.layer->name() : src.node->input_name;
    return fmt::format("{}[{}][{}]", name, src.call_index, r.index);
  };
  for (int step : model.keras_steps_) {
    const auto& st = model.steps_[size_t(step)];
    if (!st.layer) {
      if (!model.is_sequential())
        rows.push_back({st.node->input_name + " (InputLayer)", shape_to_string(st.node->shapes[0]), "0", "-"});
      continue;
    }
    std::string connected;
    for (const auto& other : model.steps_)
      if (other.layer == st.layer)
        for (const auto& r : other.inputs) connected += (connected.empty() ? "" : ", ") + tensor_name(r);
    rows.push_back({st.layer->summary_label(), shapes_to_string(st.node->shapes), with_commas(st.layer->count_params()),
                    connected});
  }
  if (!model.built()) {
    if (auto* seq = dynamic_cast<const Sequential*>(&model))
      for (const auto& l : seq->sequential_layers()) rows.push_back({l->summary_label(), "?", "0 (unbuilt)", ""});
  }
  if (chain)
    for (auto& r : rows) r.resize(3);
  for (size_t i = 0; i < rows.size(); ++i) {
    t.row(rows[i], "│");
    if (i + 1 < rows.size()) t.out += t.border("├", "─", "┼", "┤");
  }
  t.out += t.border("└", "─", "┴", "┘");

  int64_t total = model.count_params(), trainable = model.count_trainable_params();
  int64_t frozen = total - trainable;
  std::string totals = fmt::format(" Total params: {} ({})\n", with_commas(total), readable_memory_size(4.0 * double(total)));
  totals += fmt::format(" Trainable params: {} ({})\n", with_commas(trainable), readable_memory_size(4.0 * double(trainable)));
  totals += fmt::format(" Non-trainable params: {} ({})\n", with_commas(frozen), readable_memory_size(4.0 * double(frozen)));
  return header + t.out + totals;
}

std::string Model::summary_string(int line_length) const { return summary_table(*this, line_length); }

void Model::summary(int line_length) const { console_out(summary_string(line_length)); }

}  // namespace seqnet
