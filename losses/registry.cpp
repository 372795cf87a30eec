// losses/registry.cpp — every loss by its --loss name, in --help order, and the look-ups on it.
// Adding a loss (docs/adding-a-loss.md): its source in losses/ (with its LossEntry), one line
// here, tests, doc page.
//
// Each loss's LossEntry (its description, options table, TrainingDefaults and the measurements
// behind them) is in the loss's own source file, next to its forward: softmax_entry() in
// losses/softmax.cpp, normface_entry() ... in losses/margin_softmax.cpp, and so on.
#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "losses/centroid.h"
#include "losses/loss.h"
#include "losses/margin_softmax.h"
#include "losses/softmax.h"
#include "losses/triplet.h"

namespace chalk {

namespace {

// Two losses that share an option name share its flag and its config.json key: the same kind.
void check_same_kind(const LossEntry& a, const OptionSpec& x, const LossEntry& b, const OptionSpec& y) {
  if (x.type != y.type || x.is_switch() != y.is_switch())
    fail("loss option '", x.name, "': the ", a.name, " loss and the ", b.name, " loss declare it differently (",
         x.is_switch() ? "a switch" : x.allowed_str(), " and ", y.is_switch() ? "a switch" : y.allowed_str(),
         "); one flag ", x.flag(), " cannot take both: rename one");
}

void check_options_agree(const LossEntry& a, const LossEntry& b) {
  for (const OptionSpec& o : b.options)
    if (const OptionSpec* same = find_option(a, o.name)) check_same_kind(a, *same, b, o);
}

// The table itself; loss_registry() shows it read-only, register_loss() appends to it.
std::deque<LossEntry>& registry_table() {
  static std::deque<LossEntry> table = [] {
    std::deque<LossEntry> t{softmax_entry(),  normface_entry(), sphereface_entry(), cosface_entry(),
                            arcface_entry(),  combined_entry(), triplet_entry(),    centroid_entry()};
    for (std::size_t i = 0; i < t.size(); ++i)
      for (std::size_t j = 0; j < i; ++j) check_options_agree(t[j], t[i]);
    return t;
  }();
  return table;
}

}  // namespace

const std::deque<LossEntry>& loss_registry() { return registry_table(); }

void register_loss(LossEntry entry) {
  if (entry.name.empty()) fail("register_loss: the loss needs a name (its --loss value)");
  if (!entry.make) fail("register_loss: loss '", entry.name, "' has no make function");
  for (const LossEntry& e : registry_table())
    if (e.name == entry.name) fail("register_loss: a loss named '", entry.name, "' is already registered");
  for (const LossEntry& e : registry_table()) check_options_agree(e, entry);
  registry_table().push_back(std::move(entry));
}

const LossEntry& find_loss(const std::string& name) {
  std::string known;
  for (const LossEntry& e : loss_registry()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  fail("unknown loss '", name, "' (known losses: ", known, ")");
}

std::string describe_defaults(const TrainingDefaults& d) {
  std::string s = d.emb_dim == 0 ? std::string("emb_dim 0 (the model outputs the logits)") : str_cat("emb_dim ", d.emb_dim);
  s += d.optimizer == "sgd" ? str_cat(", sgd lr ", d.sgd_lr, " (adam/adamw lr ", d.adam_lr, ")")
                            : str_cat(", ", d.optimizer, " lr ", d.adam_lr, " (sgd lr ", d.sgd_lr, ")");
  if (d.warmup_epochs > 0) s += str_cat(", warm-up ", d.warmup_epochs, " epoch(s)");
  return s;
}

std::shared_ptr<Loss> make_loss(const std::string& name, const LossOptions& options) {
  return find_loss(name).make(options);
}

const OptionSpec* find_option(const LossEntry& loss, const std::string& name) {
  for (const OptionSpec& o : loss.options)
    if (o.name == name) return &o;
  return nullptr;
}

const OptionSpec& loss_option(const LossEntry& loss, const std::string& name) {
  if (const OptionSpec* o = find_option(loss, name)) return *o;
  std::string flags;
  for (const OptionSpec& x : loss.options) flags += (flags.empty() ? "" : ", ") + x.flag();
  const std::string flag = option_flag(name);
  fail(flag, ": the ", loss.name, " loss has no option ", flag, " (",
       flags.empty() ? "it has none" : "its options: " + flags, ")");
}

std::string describe_options(const LossEntry& loss) {
  std::string s;
  for (const OptionSpec& o : loss.options)
    s += (s.empty() ? "" : ", ") + o.flag() + " " + (o.default_value ? o.default_str() : "(" + o.default_text + ")");
  return s.empty() ? "none" : s;
}

std::map<std::string, OptionValue> resolve_options(const LossEntry& loss, const std::map<std::string, OptionValue>& given) {
  std::map<std::string, OptionValue> out;
  for (const auto& [name, value] : given) {
    const OptionSpec& o = loss_option(loss, name);
    out[name] = check_option_value(o, value, o.flag());
  }
  for (const OptionSpec& o : loss.options)
    if (o.default_value && !out.count(o.name)) out[o.name] = *o.default_value;
  return out;
}

std::vector<LossOptionFlag> loss_option_flags() {
  std::vector<LossOptionFlag> flags;
  for (const LossEntry& e : loss_registry())
    for (const OptionSpec& o : e.options) {
      auto it = std::find_if(flags.begin(), flags.end(), [&](const LossOptionFlag& f) { return f.name == o.name; });
      if (it == flags.end()) it = flags.insert(flags.end(), LossOptionFlag{o.name, {}});
      else check_same_kind(*it->takers.front().first, *it->takers.front().second, e, o);
      it->takers.emplace_back(&e, &o);
    }
  return flags;
}

}  // namespace chalk
