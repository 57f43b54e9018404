// Pickle opcodes (Python's pickletools documents them) for protocols 2 to 5, the subset that NumPy's
// ndarray.__reduce__ produces for an object array of int lists:
//   _reconstruct(ndarray, (0,), b'b')  BUILD (1, shape, dtype('O8', False, True) BUILD (...), fortran, [lists...])
#include "pickle_int_lists.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

namespace seqnet::data::detail {
namespace {

struct Obj;
using ObjPtr = std::shared_ptr<Obj>;

// A stack value: ints, bools and None stay inline; everything else points at an Obj.
struct Value {
  enum Kind : uint8_t { none, boolean, integer, object, mark } kind = none;
  int64_t i = 0;
  ObjPtr obj;
  Value(Kind k = none, int64_t v = 0, ObjPtr o = nullptr) : kind(k), i(v), obj(std::move(o)) {}
};

struct Obj {
  enum Kind { text, list, tuple, dict, global, reduced } kind;
  std::string s;                 // text / bytes; global: "module.name"
  std::vector<int64_t> ints;     // list: its items while they are all ints
  std::vector<Value> items;      // list (once mixed), tuple, dict (key, value, ...); reduced: callable, args
  bool mixed = false;
  Value state;                   // reduced: what BUILD set
  bool has_state = false;
};

class Reader {
 public:
  Reader(const uint8_t* d, size_t n, const std::string& name) : d_(d), n_(n), name_(name) {}

  Value run() {
    while (true) {
      if (p_ >= n_) fail("the pickle ends without a STOP opcode");
      const size_t at = p_;
      const uint8_t op = d_[p_++];
      switch (op) {
        case 0x80: take(1); break;                          // PROTO
        case 0x95: take(8); break;                          // FRAME
        case '.': {                                         // STOP
          if (stack_.size() != 1) fail("STOP with " + std::to_string(stack_.size()) + " values on the stack");
          if (p_ != n_) fail(std::to_string(n_ - p_) + " bytes after the pickle's end (STOP)");
          return stack_.back();
        }
        case 'N': push({Value::none}); break;
        case 0x88: push({Value::boolean, 1}); break;        // NEWTRUE
        case 0x89: push({Value::boolean, 0}); break;        // NEWFALSE
        case 'K': push({Value::integer, take(1)[0]}); break;  // BININT1
        case 'M': push({Value::integer, static_cast<int64_t>(le(take(2), 2))}); break;  // BININT2
        case 'J': push({Value::integer, static_cast<int32_t>(le(take(4), 4))}); break;  // BININT
        case 0x8a: push({Value::integer, long_int(take(1)[0])}); break;  // LONG1
        case 0x8b: push({Value::integer, long_int(le(take(4), 4))}); break;  // LONG4
        case 'X': case 'T': case 'B': push(text(le(take(4), 4))); break;  // BINUNICODE, BINSTRING, BINBYTES
        case 0x8c: case 'U': case 'C': push(text(take(1)[0])); break;  // SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES
        case 0x8d: case 0x8e: push(text(le(take(8), 8))); break;  // BINUNICODE8, BINBYTES8
        case 'c': {                                         // GLOBAL "module\nname\n"
          std::string module = line(), nm = line();
          push(make(Obj::global, module + "." + nm));
          break;
        }
        case 0x93: {                                        // STACK_GLOBAL
          Value nm = pop(), module = pop();
          push(make(Obj::global, str(module) + "." + str(nm)));
          break;
        }
        case '(': push({Value::mark}); break;
        case ')': push(make(Obj::tuple)); break;
        case 0x85: case 0x86: case 0x87: {                  // TUPLE1..3
          const size_t k = op - 0x84u;
          Value t = make(Obj::tuple);
          if (stack_.size() < k) fail("TUPLE" + std::to_string(k) + " on a short stack");
          t.obj->items.assign(stack_.end() - static_cast<long>(k), stack_.end());
          stack_.resize(stack_.size() - k);
          push(t);
          break;
        }
        case 't': { Value t = make(Obj::tuple); t.obj->items = pop_to_mark(); push(t); break; }
        case ']': push(make(Obj::list)); break;
        case 'l': { Value l = make(Obj::list); for (auto& v : pop_to_mark()) append(l, v); push(l); break; }
        case 'a': { Value v = pop(); append(top(), v); break; }
        case 'e': { auto vs = pop_to_mark(); Value& l = top(); for (auto& v : vs) append(l, v); break; }
        case '}': push(make(Obj::dict)); break;
        case 's': { Value v = pop(), k = pop(); dict_of(top()).push_back(k); dict_of(top()).push_back(v); break; }
        case 'u': { auto vs = pop_to_mark(); auto& d = dict_of(top()); d.insert(d.end(), vs.begin(), vs.end()); break; }
        case 'q': memo_[take(1)[0]] = top(); break;         // BINPUT
        case 'r': memo_[le(take(4), 4)] = top(); break;     // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;      // MEMOIZE
        case 'h': push(get(take(1)[0])); break;             // BINGET
        case 'j': push(get(le(take(4), 4))); break;         // LONG_BINGET
        case 'R': {                                         // REDUCE
          Value args = pop(), fn = pop();
          if (fn.kind != Value::object || fn.obj->kind != Obj::global) fail("REDUCE of something that is not a global");
          Value r = make(Obj::reduced, fn.obj->s);
          r.obj->items = {fn, args};
          push(r);
          break;
        }
        case 'b': {                                         // BUILD
          Value state = pop();
          Value& target = top();
          if (target.kind != Value::object || target.obj->kind != Obj::reduced) fail("BUILD on something that is not a reduced object");
          target.obj->state = state;
          target.obj->has_state = true;
          break;
        }
        default: {
          char buf[64];
          std::snprintf(buf, sizeof buf, "unsupported pickle opcode 0x%02x at byte %zu", op, at);
          throw Error(name_ + ": " + buf + " (only NumPy object arrays of int lists can be read)");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(name_ + ": pickle, byte " + std::to_string(p_) + ": " + what +
                " (only NumPy object arrays of int lists can be read)");
  }
  const uint8_t* take(size_t k) {
    if (n_ - p_ < k) fail("truncated");
    const uint8_t* at = d_ + p_;
    p_ += k;
    return at;
  }
  static uint64_t le(const uint8_t* b, int k) {
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  int64_t long_int(uint64_t k) {
    if (k > 8) fail("an integer wider than 64 bits");
    if (k == 0) return 0;
    const uint8_t* b = take(static_cast<size_t>(k));
    uint64_t v = le(b, static_cast<int>(k));
    if (k < 8 && (b[k - 1] & 0x80)) v |= ~uint64_t{0} << (8 * k);
    return static_cast<int64_t>(v);
  }
  std::string line() {
    size_t e = p_;
    while (e < n_ && d_[e] != '\n') ++e;
    if (e >= n_) fail("GLOBAL without a newline");
    std::string s(reinterpret_cast<const char*>(d_ + p_), e - p_);
    p_ = e + 1;
    return s;
  }
  Value make(Obj::Kind k, std::string s = {}) {
    auto o = std::make_shared<Obj>();
    o->kind = k;
    o->s = std::move(s);
    return {Value::object, 0, o};
  }
  Value text(uint64_t len) {
    if (len > n_ - p_) fail("a string runs past the end");
    return make(Obj::text, std::string(reinterpret_cast<const char*>(take(static_cast<size_t>(len))), static_cast<size_t>(len)));
  }
  std::string str(const Value& v) {
    if (v.kind != Value::object || v.obj->kind != Obj::text) fail("expected a string");
    return v.obj->s;
  }
  void push(Value v) { stack_.push_back(std::move(v)); }
  Value pop() {
    if (stack_.empty() || stack_.back().kind == Value::mark) fail("pop from an empty stack");
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (stack_.empty()) fail("empty stack");
    return stack_.back();
  }
  std::vector<Value> pop_to_mark() {
    size_t m = stack_.size();
    while (m > 0 && stack_[m - 1].kind != Value::mark) --m;
    if (m == 0) fail("no MARK on the stack");
    std::vector<Value> out(stack_.begin() + static_cast<long>(m), stack_.end());
    stack_.resize(m - 1);
    return out;
  }
  void append(Value& list, const Value& v) {
    if (list.kind != Value::object || list.obj->kind != Obj::list) fail("APPEND to something that is not a list");
    Obj& l = *list.obj;
    if (!l.mixed && v.kind == Value::integer) {
      l.ints.push_back(v.i);
      return;
    }
    if (!l.mixed) {
      for (int64_t i : l.ints) l.items.push_back({Value::integer, i});
      l.ints.clear();
      l.mixed = true;
    }
    l.items.push_back(v);
  }
  std::vector<Value>& dict_of(Value& v) {
    if (v.kind != Value::object || v.obj->kind != Obj::dict) fail("SETITEM on something that is not a dict");
    return v.obj->items;
  }
  Value get(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) fail("memo key " + std::to_string(k) + " was never stored");
    return it->second;
  }

  const uint8_t* d_;
  size_t n_, p_ = 0;
  std::string name_;
  std::vector<Value> stack_;
  std::map<uint64_t, Value> memo_;
};

bool is_global(const Value& v, const char* a, const char* b) {
  return v.kind == Value::object && v.obj->kind == Obj::global && (v.obj->s == a || v.obj->s == b);
}

}  // namespace

std::vector<std::vector<int64_t>> unpickle_int_list_array(const uint8_t* data, size_t size, const std::string& name,
                                                          Shape& shape) {
  Value root = Reader(data, size, name).run();
  auto refuse = [&](const std::string& what) -> Error {
    return Error(name + ": the pickle is not a NumPy object array of int lists: " + what);
  };
  if (root.kind != Value::object || root.obj->kind != Obj::reduced)
    throw refuse("the top object is not a reconstructed object");
  const Obj& arr = *root.obj;
  if (!is_global(arr.items[0], "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"))
    throw refuse("the top object is made by " + arr.s + ", not numpy's _reconstruct");
  if (!arr.has_state || arr.state.kind != Value::object || arr.state.obj->kind != Obj::tuple ||
      arr.state.obj->items.size() != 5)
    throw refuse("the array state is not (version, shape, dtype, fortran_order, data)");
  const auto& st = arr.state.obj->items;
  // shape
  if (st[1].kind != Value::object || st[1].obj->kind != Obj::tuple) throw refuse("the shape is not a tuple");
  shape.clear();
  for (const Value& d : st[1].obj->items) {
    if (d.kind != Value::integer || d.i < 0) throw refuse("a shape entry is not a non-negative int");
    shape.push_back(d.i);
  }
  // dtype must be object ('O8' or 'O')
  const Value& dt = st[2];
  if (dt.kind != Value::object || dt.obj->kind != Obj::reduced || !is_global(dt.obj->items[0], "numpy.dtype", "numpy.dtype"))
    throw refuse("the dtype is not a numpy.dtype");
  const Value& dargs = dt.obj->items[1];
  if (dargs.kind != Value::object || dargs.obj->kind != Obj::tuple || dargs.obj->items.empty() ||
      dargs.obj->items[0].kind != Value::object || dargs.obj->items[0].obj->s.empty() ||
      dargs.obj->items[0].obj->s[0] != 'O')
    throw refuse("the dtype is not object ('O')");
  if (st[3].kind == Value::boolean && st[3].i != 0 && shape.size() > 1) throw refuse("Fortran order is not supported");
  const Value& items = st[4];
  if (items.kind != Value::object || items.obj->kind != Obj::list) throw refuse("the data is not a list");
  const Obj& list = *items.obj;
  const size_t count = list.mixed ? list.items.size() : list.ints.size();
  if (static_cast<int64_t>(count) != shape_size(shape))
    throw refuse("the data has " + std::to_string(count) + " elements for shape " + shape_to_string(shape));
  std::vector<std::vector<int64_t>> out;
  out.reserve(count);
  for (size_t e = 0; e < count; ++e) {
    const Value& v = list.mixed ? list.items[e] : Value{Value::integer, list.ints[e], nullptr};
    if (v.kind != Value::object || v.obj->kind != Obj::list)
      throw refuse("element " + std::to_string(e) + " is not a list");
    const Obj& l = *v.obj;
    if (l.mixed) {
      std::vector<int64_t> ints;
      for (const Value& x : l.items) {
        if (x.kind != Value::integer) throw refuse("element " + std::to_string(e) + " holds something other than ints");
        ints.push_back(x.i);
      }
      out.push_back(std::move(ints));
    } else {
      out.push_back(l.ints);
    }
  }
  return out;
}

}  // namespace seqnet::data::detail
