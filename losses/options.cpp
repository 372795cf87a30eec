// losses/options.cpp — checking, parsing and printing loss options (losses/options.h).
#include "losses/options.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace chalk {

LossOptions& LossOptions::set(const std::string& name, OptionValue value) {
  values[name] = std::move(value);
  return *this;
}

std::optional<OptionValue> LossOptions::get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

namespace {

// A number as --help and the docs write it: the shortest form of up to 6 digits (0.35, 30, 0.001).
std::string number_str(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

const char* kind_name(OptionType t) {
  switch (t) {
    case OptionType::Bool: return "on or off";
    case OptionType::Int: return "an integer";
    case OptionType::Real: return "a finite number";
    case OptionType::Text: return "a text";
  }
  return "?";
}

// "expected a finite number > 0": the kind and the range or choices.
std::string expected(const OptionSpec& spec) {
  if (spec.type == OptionType::Text && !spec.choices.empty()) {
    std::string s = "expected one of ";
    for (std::size_t i = 0; i < spec.choices.size(); ++i) s += (i ? ", " : "") + spec.choices[i];
    return s;
  }
  std::string s = std::string("expected ") + kind_name(spec.type);
  if (spec.type == OptionType::Int || spec.type == OptionType::Real) {
    const std::string range = spec.allowed_str();
    if (range.rfind("any ", 0) != 0) s += " " + (range.front() == '[' ? "in " + range : range);
  }
  return s;
}

}  // namespace

std::string option_flag(const std::string& name) {
  std::string f = "--" + name;
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

std::string OptionSpec::flag() const { return option_flag(name); }

bool OptionSpec::is_switch() const {
  return type == OptionType::Bool && default_value && !std::get<bool>(*default_value);
}

std::string OptionSpec::default_str() const { return default_value ? option_value_str(*default_value) : default_text; }

std::string OptionSpec::allowed_str() const {
  switch (type) {
    case OptionType::Bool: return "on | off";
    case OptionType::Text: {
      if (choices.empty()) return "any text";
      std::string s;
      for (std::size_t i = 0; i < choices.size(); ++i) s += (i ? " | " : "") + choices[i];
      return s;
    }
    case OptionType::Int:
    case OptionType::Real: {
      const bool low = std::isfinite(min), high = std::isfinite(max);
      if (low && high) return str_cat("[", number_str(min), ", ", number_str(max), "]");
      if (low) return str_cat(min_exclusive ? "> " : ">= ", number_str(min));
      if (high) return str_cat("<= ", number_str(max));
      return type == OptionType::Int ? "any integer" : "any number";
    }
  }
  return "";
}

std::string option_value_str(const OptionValue& value) {
  if (const bool* b = std::get_if<bool>(&value)) return *b ? "on" : "off";
  if (const std::int64_t* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  if (const double* d = std::get_if<double>(&value)) return number_str(*d);
  return std::get<std::string>(value);
}

std::string option_values_str(const LossOptions& options) {
  std::string s;
  for (const auto& [name, value] : options.values) s += (s.empty() ? "" : ", ") + name + " " + option_value_str(value);
  return s.empty() ? "none" : s;
}

OptionValue check_option_value(const OptionSpec& spec, const OptionValue& value, const std::string& what) {
  auto bad = [&]() -> OptionValue {
    const bool text = std::holds_alternative<std::string>(value);
    fail(what, ": ", expected(spec), ", got ", text ? "'" : "", option_value_str(value), text ? "'" : "");
  };
  switch (spec.type) {
    case OptionType::Bool: {
      if (const bool* b = std::get_if<bool>(&value)) return *b;
      const std::int64_t* i = std::get_if<std::int64_t>(&value);
      if (i && (*i == 0 || *i == 1)) return *i == 1;
      return bad();
    }
    case OptionType::Text: {
      const std::string* s = std::get_if<std::string>(&value);
      if (!s || (!spec.choices.empty() && std::find(spec.choices.begin(), spec.choices.end(), *s) == spec.choices.end()))
        return bad();
      return *s;
    }
    case OptionType::Int:
    case OptionType::Real: {
      double v = 0;
      if (const std::int64_t* i = std::get_if<std::int64_t>(&value)) v = static_cast<double>(*i);
      else if (const double* d = std::get_if<double>(&value)) v = *d;
      else return bad();
      if (!std::isfinite(v) || v < spec.min || v > spec.max || (spec.min_exclusive && v == spec.min)) return bad();
      if (spec.type == OptionType::Real) return v;
      if (const std::int64_t* i = std::get_if<std::int64_t>(&value)) return *i;
      if (v != std::trunc(v) || std::fabs(v) > 9.0e15) return bad();  // a whole number, exactly representable
      return static_cast<std::int64_t>(v);
    }
  }
  return bad();
}

OptionValue parse_option_text(const OptionSpec& spec, const std::string& text, const std::string& what) {
  switch (spec.type) {
    case OptionType::Bool: {
      if (text == "1" || text == "on" || text == "true") return check_option_value(spec, true, what);
      if (text == "0" || text == "off" || text == "false") return check_option_value(spec, false, what);
      break;
    }
    case OptionType::Int: {
      try {
        std::size_t used = 0;
        const long long v = std::stoll(text, &used);
        if (used == text.size()) return check_option_value(spec, static_cast<std::int64_t>(v), what);
      } catch (const std::exception&) {
      }
      break;
    }
    case OptionType::Real: {
      try {
        std::size_t used = 0;
        const double v = std::stod(text, &used);
        if (used == text.size()) return check_option_value(spec, v, what);
      } catch (const std::exception&) {
      }
      break;
    }
    case OptionType::Text: return check_option_value(spec, text, what);
  }
  fail(what, ": ", expected(spec), ", got '", text, "'");
}

std::string describe_option_names(const std::vector<OptionSpec>& specs) {
  if (specs.empty()) return "it has none";
  std::string s = "its options: ";
  for (std::size_t i = 0; i < specs.size(); ++i) s += (i ? ", " : "") + specs[i].name;
  return s;
}

void check_option_table(const std::string& loss, const std::vector<OptionSpec>& specs,
                        const std::vector<std::size_t>& member_offsets, std::size_t members) {
  std::set<std::string> names;
  std::set<std::size_t> offsets(member_offsets.begin(), member_offsets.end());
  for (const OptionSpec& s : specs) {
    const bool snake = !s.name.empty() && std::all_of(s.name.begin(), s.name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!snake) fail(loss, " loss: option name '", s.name, "' is not snake_case (config.json's key; the flag is made from it)");
    if (!names.insert(s.name).second) fail(loss, " loss: its table names the option '", s.name, "' twice");
    if (s.help.empty()) fail(loss, " loss: option '", s.name, "' has no help text");
    if (s.default_value) check_option_value(s, *s.default_value, loss + " loss: the default of option '" + s.name + "'");
    else if (s.default_text.empty())
      fail(loss, " loss: option '", s.name, "' has no default and does not say what the loss does without it (default_is)");
  }
  if (offsets.size() != member_offsets.size()) fail(loss, " loss: its table binds one member to two options");
  if (specs.size() != members)
    fail(loss, " loss: its table names ", specs.size(), " option(s), its options struct has ", members,
         " member(s): every member needs its line in the table (else no flag, config.json or checkpoint can set it)");
}

}  // namespace chalk
