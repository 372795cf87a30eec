// losses/options.h — a loss's options, declared once, next to the forward they configure.
//
// A loss keeps its options in a struct of its own whose member initialisers are the defaults, as
// PyTorch keeps them in one signature (nn.TripletMarginLoss(margin=1.0, p=2., eps=1e-6, swap=False)),
// and one table beside its forward that names each member for everything outside the loss:
//
//   struct CosFaceOptions {                                     // losses/margin_softmax.h
//     double scale = 30;     // s
//     double margin = 0.35;  // m
//   };
//   const OptionTable<CosFaceOptions>& cosface_options() {      // losses/margin_softmax.cpp
//     static const OptionTable<CosFaceOptions> table("cosface", {
//         option("scale", &CosFaceOptions::scale, "s, the logits' scale").above(0),
//         option("margin", &CosFaceOptions::margin, "m, subtracted from the target's cosine").at_least(0)});
//     return table;
//   }
//
// The loss reads its struct with table.read(options); everything else loops over the table's
// OptionSpecs (the loss's LossEntry::options): chalk-train's flags (--scale, --margin) and their
// --help, config.json and the checkpoint's copy of it, resume, chalk-eval, and docs/losses.md's
// table of options (checked by tests/test_pages.cpp). So adding an option to a loss is one member
// of its struct and one line of its table, in that loss's own files (docs/adding-a-loss.md, 7).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"

namespace chalk {

// An option's value as flags and config.json carry it, before its loss reads it into its struct.
using OptionValue = std::variant<bool, std::int64_t, double, std::string>;
// The kinds of option: the alternatives of OptionValue, in its order.
enum class OptionType { Bool, Int, Real, Text };

// What a loss is built from: the problem's size and a seed (the trainer sets them from the data
// set and the run), and the options the user chose, by name. An option that is not in `values`
// was not given: the loss takes its default (the member initialiser of its options struct).
struct LossOptions {
  std::int64_t num_classes = 10;  // C
  std::int64_t emb_dim = 64;      // D (softmax: 0 = the model outputs the C logits, no head)
  std::uint64_t seed = 0;         // random/kmeans centroids, the class weights' initialisation
  std::map<std::string, OptionValue> values;  // "margin" -> 0.5, "mining" -> "all", "soft_margin" -> true

  // values[name] = value; returns *this, so that settings chain: o.set("scale", 16.0).set("margin", 0.2).
  LossOptions& set(const std::string& name, OptionValue value);
  LossOptions& set(const std::string& name, const char* text) { return set(name, std::string(text)); }
  // The value given for `name`; nullopt when it was not given.
  std::optional<OptionValue> get(const std::string& name) const;
  // The same num_classes, emb_dim and seed, and no option given: every option at its loss's
  // default. For a second loss of the same run (demo 09 adds a softmax head to the triplet loss).
  LossOptions with_defaults() const { return LossOptions{num_classes, emb_dim, seed, {}}; }
};

// One option as the world outside its loss sees it: a row of the loss's table, without the member.
struct OptionSpec {
  std::string name;  // config.json's key, in snake_case ("soft_margin"); the flag is flag() ("--soft-margin")
  OptionType type = OptionType::Real;
  std::string help;  // what it sets, for --help and docs/losses.md
  // The member initialiser's value; nullopt for an std::optional member left empty, whose default
  // the loss chooses as default_text says ("nonzero for all, mean for hard and semihard").
  std::optional<OptionValue> default_value;
  std::string default_text;
  std::vector<std::string> choices;  // Text: the values allowed (empty: any text)
  // Int and Real: the values allowed (a Real must also be finite); min itself excluded when min_exclusive.
  double min = -std::numeric_limits<double>::infinity(), max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;

  // option_flag(name): "--soft-margin".
  std::string flag() const;
  // A Bool that is off by default is a bare flag on the command line (--soft-margin turns it on);
  // one that is on by default takes a value (--normalize 0).
  bool is_switch() const;
  // The default as --help and the docs print it: "0.35", "hard", "on", or default_text.
  std::string default_str() const;
  // The values allowed, as --help and the docs print them: "all | hard | semihard", "> 0", "[0, 1]",
  // "on | off"; "any number", "any integer", "any text" when unrestricted.
  std::string allowed_str() const;
};

// The flag of an option called `name`: "--" + name with '-' for '_' ("soft_margin" -> "--soft-margin").
std::string option_flag(const std::string& name);

// A value as --help, logs and the docs print it: 0.35, 30, hard, on / off.
std::string option_value_str(const OptionValue& value);

// The options given, as a log prints them: "margin 0.5, scale 30" (by name), or "none".
std::string option_values_str(const LossOptions& options);

// `value` as the type `spec` declares, after checking it: a whole number is accepted for a Real, a
// Real with no fraction for an Int, and 0 and 1 for a Bool (config.json's earlier format wrote
// normalize as 0 or 1). Throws chalk::Error beginning with `what` ("--scale", "config:
// loss_options.scale") when the kind is wrong, a number is not finite or outside the range, or a
// text is not one of the choices: "--scale: expected a finite number > 0, got nan".
OptionValue check_option_value(const OptionSpec& spec, const OptionValue& value, const std::string& what);

// The value a flag's text gives, checked as check_option_value does: a number ("0.35", "nan" is
// refused), an integer, a choice, or for a Bool one of 1 / 0, on / off, true / false.
OptionValue parse_option_text(const OptionSpec& spec, const std::string& text, const std::string& what);

namespace detail {

// Counts an aggregate's members: T{f, f, ..., f} with one more f than T has members does not
// compile. OptionTable checks with it that its table names every member of the struct.
struct AnyMember {
  template <class T>
  operator T() const;  // never called: only asked whether the braces would compile
};
template <class T, class... Filled>
constexpr std::size_t member_count() {
  if constexpr (requires { T{Filled{}..., AnyMember{}}; }) return member_count<T, Filled..., AnyMember>();
  else return sizeof...(Filled);
}

template <class T>
struct Unwrap {
  using type = T;
  static constexpr bool optional = false;
};
template <class T>
struct Unwrap<std::optional<T>> {
  using type = T;
  static constexpr bool optional = true;
};

template <class T>
constexpr OptionType option_type_of() {
  if constexpr (std::is_same_v<T, bool>) return OptionType::Bool;
  else if constexpr (std::is_integral_v<T>) return OptionType::Int;
  else if constexpr (std::is_floating_point_v<T>) return OptionType::Real;
  else {
    static_assert(std::is_same_v<T, std::string>, "a loss option is a bool, an integer, a real number or a std::string");
    return OptionType::Text;
  }
}

template <class T>
OptionValue to_option_value(const T& v) {
  if constexpr (std::is_same_v<T, bool>) return OptionValue(v);
  else if constexpr (std::is_integral_v<T>) return OptionValue(static_cast<std::int64_t>(v));
  else if constexpr (std::is_floating_point_v<T>) return OptionValue(static_cast<double>(v));
  else return OptionValue(v);
}

}  // namespace detail

// One line of a loss's table: the option's spec and how to set its member. Made by option(...)
// below, then narrowed: option("scale", &CosFaceOptions::scale, "...").above(0).
template <class Options>
struct Option {
  OptionSpec spec;
  std::function<void(Options&, const OptionValue&)> assign;  // a checked value into the member
  std::size_t offset = 0;                                     // the member's place in Options

  // Text: only these values.
  Option one_of(std::vector<std::string> choices) && {
    spec.choices = std::move(choices);
    return std::move(*this);
  }
  Option at_least(double lo) && {  // >= lo
    spec.min = lo;
    return std::move(*this);
  }
  Option above(double lo) && {  // > lo
    spec.min = lo;
    spec.min_exclusive = true;
    return std::move(*this);
  }
  Option between(double lo, double hi) && {  // in [lo, hi]
    spec.min = lo;
    spec.max = hi;
    return std::move(*this);
  }
  // For an std::optional member left empty by default: what the loss does when it is not given.
  Option default_is(std::string text) && {
    spec.default_text = std::move(text);
    return std::move(*this);
  }
};

// The table line of `member` of Options, called `name` (config.json's key, snake_case). Its type,
// and its default (the member's initialiser), come from the member itself.
template <class Options, class T>
Option<Options> option(std::string name, T Options::*member, std::string help) {
  using U = typename detail::Unwrap<T>::type;
  Option<Options> o;
  o.spec.name = std::move(name);
  o.spec.help = std::move(help);
  o.spec.type = detail::option_type_of<U>();
  const Options defaults{};
  const T& d = defaults.*member;
  if constexpr (detail::Unwrap<T>::optional) {
    if (d) o.spec.default_value = detail::to_option_value(*d);
  } else {
    o.spec.default_value = detail::to_option_value(d);
  }
  o.offset = static_cast<std::size_t>(reinterpret_cast<const char*>(&d) - reinterpret_cast<const char*>(&defaults));
  o.assign = [member, name = o.spec.name](Options& out, const OptionValue& v) {
    U value{};
    if constexpr (std::is_same_v<U, bool>) value = std::get<bool>(v);
    else if constexpr (std::is_integral_v<U>) {
      const std::int64_t i = std::get<std::int64_t>(v);
      if (!std::in_range<U>(i)) fail("option '", name, "': ", i, " does not fit its integer type");
      value = static_cast<U>(i);
    } else if constexpr (std::is_floating_point_v<U>) value = static_cast<U>(std::get<double>(v));
    else value = std::get<std::string>(v);
    out.*member = std::move(value);
  };
  return o;
}

// "its options: scale, margin" or "it has none": how an error about an unknown option ends.
std::string describe_option_names(const std::vector<OptionSpec>& specs);
// What OptionTable's constructor checks, for any table (losses/options.cpp).
void check_option_table(const std::string& loss, const std::vector<OptionSpec>& specs,
                        const std::vector<std::size_t>& member_offsets, std::size_t members);

// A loss's table of options: what its struct's members are called outside the loss, and how it
// reads them. Construct it once (a function-local static) in the loss's source file.
template <class Options>
class OptionTable {
 public:
  // Throws chalk::Error naming the loss when the table misses a member of Options or names one
  // twice, repeats a name, or a default is not among its own allowed values.
  OptionTable(std::string loss, std::vector<Option<Options>> options) : loss_(std::move(loss)), options_(std::move(options)) {
    std::vector<std::size_t> offsets;
    for (const Option<Options>& o : options_) {
      specs_.push_back(o.spec);
      offsets.push_back(o.offset);
    }
    check_option_table(loss_, specs_, offsets, detail::member_count<Options>());
  }

  const std::string& loss() const { return loss_; }
  // The options in the table's order (the order --help and the docs list them).
  const std::vector<OptionSpec>& specs() const { return specs_; }

  // The loss's options: each one given in `given.values` (checked: check_option_value), every
  // other at its default. Throws chalk::Error naming the loss and the option for a name the
  // table does not have (listing the ones it has) or a value it does not allow.
  Options read(const LossOptions& given) const {
    Options out{};
    for (const auto& [name, value] : given.values) {
      const Option<Options>* o = nullptr;
      for (const Option<Options>& candidate : options_)
        if (candidate.spec.name == name) o = &candidate;
      if (!o) fail(loss_, " loss: has no option '", name, "' (", describe_option_names(specs_), ")");
      o->assign(out, check_option_value(o->spec, value, loss_ + " loss: option '" + name + "'"));
    }
    return out;
  }

 private:
  std::string loss_;
  std::vector<Option<Options>> options_;
  std::vector<OptionSpec> specs_;
};

}  // namespace chalk
