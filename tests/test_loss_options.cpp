// tests/test_loss_options.cpp — a loss's options have one home (its options struct and table,
// losses/options.h), and every consumer reads that declaration: chalk-train's flags and --help,
// config.json, the checkpoint, resume and chalk-eval. The end-to-end test sets every option of
// every loss to a value other than its default and follows it through the real programs; the
// others pin down the tables' checks, the errors that name a key and its loss, and how files of
// config.json's earlier format (one bag of every loss's options, with -1 and "" for "the loss's
// default") still read.
//   ctest --test-dir build -R options\.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "losses/centroid.h"
#include "losses/margin_softmax.h"
#include "losses/triplet.h"
#include "test_util.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train_util.h"

using namespace chalk;
using chalk::test_util::error_of;
using chalk::test_util::expect_error;
using chalk::test_util::kSubset;
using chalk::test_util::run_program;
using chalk::test_util::temp_dir;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string& kTrain = test_util::kQuickTrain;

std::vector<std::string> loss_names() {
  std::vector<std::string> out;
  for (const LossEntry& e : loss_registry()) out.push_back(e.name);
  return out;
}

// A value of `o` other than its default, as a flag's text gives it (so the value compared later is
// exactly the one the text means): the other truth value, the first other choice, a number 0.8
// times the default (0.1 for a default of 0), an integer one above (or below) it.
OptionValue non_default(const OptionSpec& o) {
  OptionValue v;
  switch (o.type) {
    case OptionType::Bool: v = !std::get<bool>(*o.default_value); break;
    case OptionType::Text:
      for (const std::string& c : o.choices)
        if (!o.default_value || c != std::get<std::string>(*o.default_value)) {
          v = c;
          break;
        }
      break;
    case OptionType::Int: {
      const std::int64_t d = std::get<std::int64_t>(*o.default_value);
      v = static_cast<double>(d + 1) <= o.max ? d + 1 : d - 1;
      break;
    }
    case OptionType::Real: {
      const double d = std::get<double>(*o.default_value);
      v = d != 0 ? 0.8 * d : 0.1;
      break;
    }
  }
  return parse_option_text(o, option_value_str(v), o.flag());
}

// Every option of `loss` at its non_default value ...
std::map<std::string, OptionValue> non_defaults(const LossEntry& loss) {
  std::map<std::string, OptionValue> out;
  for (const OptionSpec& o : loss.options) out[o.name] = non_default(o);
  return out;
}

// ... as chalk-train's flags: " --scale 24 --margin 0.28 --easy-margin".
std::string as_flags(const LossEntry& loss, const std::map<std::string, OptionValue>& values) {
  std::string flags;
  for (const OptionSpec& o : loss.options) {
    flags += " " + o.flag();
    if (!o.is_switch()) flags += " " + option_value_str(values.at(o.name));
  }
  return flags;
}

// ... and as config.json writes them.
json as_json(const std::map<std::string, OptionValue>& values) {
  json j = json::object();
  for (const auto& [name, v] : values) std::visit([&, &name = name](const auto& x) { j[name] = x; }, v);
  return j;
}

json read_json(const std::string& path) { return json::parse(test_util::read_text(path)); }

std::string last_line(const std::string& path) {
  std::ifstream f(path);
  std::string line, last;
  while (std::getline(f, line))
    if (!line.empty()) last = line;
  return last;
}

}  // namespace

class EveryOption : public testing::TestWithParam<std::string> {};

// The test the option tables exist for: every option of the loss set to a value that is not its
// default survives chalk-train's flags -> config.json -> the checkpoint -> a resumed run (given
// again, it agrees with the stored run) -> chalk-eval, which rebuilds the same loss (its test
// metrics are the run's last epoch's, to the digit).
TEST_P(EveryOption, SurvivesFlagsConfigCheckpointResumeAndEval) {
  const LossEntry& loss = find_loss(GetParam());
  ASSERT_FALSE(loss.options.empty()) << "every loss of the registry has options";
  const std::map<std::string, OptionValue> want = non_defaults(loss);
  for (const OptionSpec& o : loss.options)
    ASSERT_NE(option_value_str(want.at(o.name)), o.default_str()) << o.name << ": not a non-default value";
  const std::string flags = as_flags(loss, want);
  const std::string dir = temp_dir("options_" + loss.name);
  std::string out;

  ASSERT_EQ(run_program(kTrain + " --epochs 1 --loss " + loss.name + flags + " --out " + dir, &out), 0)
      << flags << "\n" << out;
  EXPECT_EQ(read_json(dir + "/config.json").at("loss_options"), as_json(want)) << "config.json";
  const std::string ckpt = dir + "/checkpoint.safetensors";
  EXPECT_EQ(json::parse(load_safetensors(ckpt).metadata.at("config")).at("loss_options"), as_json(want))
      << "the checkpoint's config";
  EXPECT_EQ(checkpoint_config(ckpt).loss_options.values, want) << "the checkpoint's config, read back";

  // resumed with every flag again (the same values: no contradiction), extended by an epoch
  ASSERT_EQ(run_program("chalk-train --quiet --threads 1 --out " + dir + " --resume --epochs 2" + flags, &out), 0)
      << out;
  EXPECT_EQ(read_json(dir + "/config.json").at("loss_options"), as_json(want)) << "config.json after the resume";
  EXPECT_EQ(checkpoint_config(ckpt).loss_options.values, want) << "the resumed run's checkpoint";
  EXPECT_EQ(read_json(dir + "/config.json").at("epochs"), 2);

  ASSERT_EQ(run_program("chalk-eval --threads 1 --data " + kSubset + " " + ckpt, &out), 0) << out;
  LossOptions given;
  given.values = want;
  EXPECT_NE(out.find("options: " + option_values_str(given)), std::string::npos) << out;
  const json eval = json::parse(out.substr(out.rfind('{'))), trained = json::parse(last_line(dir + "/metrics.jsonl"));
  for (const char* key : {"test_loss", "test_accuracy", "precision_at_1", "map_at_r"})
    EXPECT_EQ(eval.at(key), trained.at(key)) << key << ": chalk-eval rebuilt another loss than the run trained";
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryOption, testing::ValuesIn(loss_names()),
                         [](const auto& info) { return info.param; });

// The same in one process: TrainConfig's JSON keeps every option's value and kind, and resolve()
// leaves given values as they are and fills in only the defaults.
TEST(LossOptions, ConfigJsonKeepsEveryOptionOfEveryLoss) {
  for (const LossEntry& e : loss_registry()) {
    SCOPED_TRACE(e.name);
    TrainConfig c = test_util::small_config(e.name);
    c.resolve();
    for (const OptionSpec& o : e.options) {  // not given: the declared default (if the loss declares one)
      if (!o.default_value) continue;
      EXPECT_EQ(c.loss_options.values.at(o.name), *o.default_value) << o.name;
    }
    c.loss_options.values = non_defaults(e);
    c.resolve();
    EXPECT_EQ(c.loss_options.values, non_defaults(e));
    EXPECT_EQ(TrainConfig::from_json(c.to_json()).loss_options.values, non_defaults(e));
  }
}

// Each loss's table names every member of its options struct once, and the defaults it reports
// are the struct's member initialisers.
TEST(LossOptions, TablesAreTheStructsDefaults) {
  EXPECT_EQ(std::get<double>(*find_option(find_loss("cosface"), "margin")->default_value), CosFaceOptions{}.margin);
  EXPECT_EQ(std::get<double>(*find_option(find_loss("arcface"), "scale")->default_value), ArcFaceOptions{}.scale);
  EXPECT_EQ(std::get<std::int64_t>(*find_option(find_loss("sphereface"), "sphere_m")->default_value),
            SphereFaceOptions{}.sphere_m);
  EXPECT_EQ(std::get<double>(*find_option(find_loss("triplet"), "margin")->default_value), TripletMining{}.margin);
  EXPECT_EQ(std::get<std::string>(*find_option(find_loss("centroid"), "centroids")->default_value),
            CentroidOptions{}.centroids);
  EXPECT_FALSE(find_option(find_loss("triplet"), "reduction")->default_value) << "the mining chooses it";
  // the free functions default to the same structs
  manual_seed(3);
  const Tensor x = randn({6, 4}, DType::Float64), W = randn({3, 4}, DType::Float64);
  const Tensor y = from_vector(std::vector<std::int64_t>{0, 1, 2, 0, 1, 2}, {6});
  EXPECT_EQ(cosface_loss(x, W, y).item(), cosface_loss(x, W, y, CosFaceOptions{}.scale, CosFaceOptions{}.margin).item());
}

namespace {

struct TwoMembers {
  double a = 1;
  bool b = false;
};

}  // namespace

// A table that misses a member of its struct, names one twice, or declares a default outside its
// own allowed values fails when it is built (the first time its loss is used: at start-up).
TEST(LossOptions, ATableMustNameEveryMemberOnce) {
  expect_error([] { OptionTable<TwoMembers>("two", {option("a", &TwoMembers::a, "a")}); },
               {"two loss", "names 1 option(s)", "2 member(s)"});
  expect_error([] { OptionTable<TwoMembers>("two", {option("a", &TwoMembers::a, "a"), option("a", &TwoMembers::b, "b")}); },
               {"two loss", "'a' twice"});
  expect_error([] { OptionTable<TwoMembers>("two", {option("a", &TwoMembers::a, "a"), option("c", &TwoMembers::a, "c")}); },
               {"two loss", "one member to two options"});
  expect_error([] { OptionTable<TwoMembers>("two", {option("a", &TwoMembers::a, "a").above(1), option("b", &TwoMembers::b, "b")}); },
               {"two loss", "the default of option 'a'", "> 1", "got 1"});
  expect_error([] { OptionTable<TwoMembers>("two", {option("A", &TwoMembers::a, "a"), option("b", &TwoMembers::b, "b")}); },
               {"'A' is not snake_case"});
  const OptionTable<TwoMembers> t("two", {option("a", &TwoMembers::a, "a").at_least(0), option("b", &TwoMembers::b, "b")});
  LossOptions o;
  o.set("a", 2).set("b", true);  // an integer for a real number: accepted
  EXPECT_EQ(t.read(o).a, 2.0);
  EXPECT_TRUE(t.read(o).b);
  o.set("c", 1.0);
  expect_error([&] { t.read(o); }, {"two loss: has no option 'c'", "its options: a, b"});
  o.values = {{"a", -1.0}};  // the old "-1 means the default" is a value like any other now: refused
  expect_error([&] { t.read(o); }, {"two loss: option 'a'", ">= 0", "got -1"});
  o.values = {{"b", "yes"}};
  expect_error([&] { t.read(o); }, {"option 'b'", "on or off", "'yes'"});
}

// Two losses that share an option name share its flag and config.json key: a loss registered
// with the same name for another kind of option is refused, naming both.
TEST(LossOptions, ASharedNameMustBeTheSameKind) {
  struct Margin {
    std::string margin = "wide";
  };
  static const OptionTable<Margin> table("odd", {option("margin", &Margin::margin, "a text margin")});
  LossEntry odd{"odd-margin", "a loss whose margin is a text", table.specs(), {},
                [](const LossOptions& o) { return make_loss("softmax", o.with_defaults()); }};
  expect_error([&] { register_loss(odd); }, {"loss option 'margin'", "odd-margin", "--margin"});
  EXPECT_THROW(find_loss("odd-margin"), Error) << "a refused entry is not in the table";
  EXPECT_NO_THROW(loss_option_flags());
}

// chalk-train: a flag the chosen loss does not have is a bad flag (exit 2) naming the flag, the
// loss and its options; a bad value names the flag; --help lists each loss's options with the
// defaults of its table, and each flag with what it sets in each loss.
TEST(LossOptions, ChalkTrainFlagsComeFromTheTables) {
  std::string out, cosface_flags;
  for (const OptionSpec& o : find_loss("cosface").options) cosface_flags += (cosface_flags.empty() ? "" : ", ") + o.flag();
  EXPECT_EQ(run_program(kTrain + " --epochs 1 --loss cosface --mining all", &out), 2) << out;
  EXPECT_NE(out.find("--mining: the cosface loss has no option --mining (its options: " + cosface_flags + ")"),
            std::string::npos) << out;
  EXPECT_EQ(run_program(kTrain + " --epochs 1 --mining all", &out), 2) << "the default loss, softmax: " << out;
  EXPECT_NE(out.find("the softmax loss has no option --mining"), std::string::npos) << out;
  EXPECT_EQ(run_program(kTrain + " --epochs 1 --loss triplet --normalize -1", &out), 2) << out;
  EXPECT_NE(out.find("--normalize: expected on or off, got '-1'"), std::string::npos) << out;
  EXPECT_EQ(run_program(kTrain + " --epochs 1 --loss triplet --reduction median", &out), 2) << out;
  EXPECT_NE(out.find("--reduction: expected one of nonzero, mean, sum, got 'median'"), std::string::npos) << out;
  EXPECT_EQ(run_program(kTrain + " --epochs 1 --loss sphereface --sphere-m 2.5", &out), 2) << out;
  EXPECT_NE(out.find("--sphere-m: expected an integer in [1, 6], got '2.5'"), std::string::npos) << out;

  ASSERT_EQ(run_program("chalk-train --help", &out), 0);
  for (const LossEntry& e : loss_registry()) {
    EXPECT_NE(out.find("options: " + describe_options(e)), std::string::npos) << e.name << ":\n" << out;
    for (const OptionSpec& o : e.options) {
      EXPECT_NE(out.find(o.flag()), std::string::npos) << o.flag();
      EXPECT_NE(out.find(e.name + ": " + o.help + " (default " + o.default_str()), std::string::npos)
          << e.name << " " << o.flag() << ":\n" << out;
    }
  }
  EXPECT_NE(describe_options(find_loss("cosface")).find("--margin " + find_option(find_loss("cosface"), "margin")->default_str()),
            std::string::npos);
}

// A resumed run keeps its loss's options: a flag that disagrees names both values, also against
// an option the stored run left to its loss (the triplet loss's reduction under batch-hard).
TEST(LossOptions, AResumedRunKeepsItsOptions) {
  const std::string dir = temp_dir("options_resume");
  std::string out;
  ASSERT_EQ(run_program(kTrain + " --epochs 1 --loss triplet --out " + dir, &out), 0) << out;
  EXPECT_EQ(run_program("chalk-train --quiet --out " + dir + " --resume --epochs 2 --margin 0.3", &out), 2) << out;
  EXPECT_NE(out.find("--margin 0.3 contradicts the run being resumed, which has margin = " +
                     find_option(find_loss("triplet"), "margin")->default_str()),
            std::string::npos)
      << out;
  EXPECT_EQ(run_program("chalk-train --quiet --out " + dir + " --resume --epochs 2 --reduction sum", &out), 2) << out;
  EXPECT_NE(out.find("which has reduction = its loss's own default"), std::string::npos) << out;
  EXPECT_EQ(run_program("chalk-train --quiet --out " + dir + " --resume --epochs 2 --scale 3", &out), 2) << out;
  EXPECT_NE(out.find("--scale: the triplet loss has no option --scale"), std::string::npos) << out;
  fs::remove_all(dir);
}

// A config.json or checkpoint whose loss_options hold a key its loss does not have is an error
// naming the key and the loss, in TrainConfig::from_json and in chalk-eval (not a key skipped).
TEST(LossOptions, AnUnknownKeyIsAnErrorNamingTheKeyAndTheLoss) {
  TrainConfig c = test_util::small_config("cosface");
  c.resolve();
  json j = json::parse(c.to_json());
  j["loss_options"]["mining"] = "all";
  expect_error([&] { TrainConfig::from_json(j.dump()); },
               {"loss_options.mining", "the cosface loss has no option 'mining'",
                describe_option_names(find_loss("cosface").options)});
  j = json::parse(c.to_json());
  j["loss_options"]["margin"] = "wide";
  expect_error([&] { TrainConfig::from_json(j.dump()); }, {"loss_options.margin", "a finite number", "'wide'"});

  const std::string dir = temp_dir("options_unknown");
  std::string out;
  ASSERT_EQ(run_program(kTrain + " --epochs 1 --loss cosface --out " + dir, &out), 0) << out;
  SafetensorsFile f = load_safetensors(dir + "/checkpoint.safetensors");
  json stored = json::parse(f.metadata.at("config"));
  stored["loss_options"]["soft_margin"] = true;
  f.metadata["config"] = stored.dump();
  save_safetensors(dir + "/edited.safetensors", f.tensors, f.metadata);
  EXPECT_EQ(run_program("chalk-eval --data " + kSubset + " " + dir + "/edited.safetensors", &out), 1) << out;
  EXPECT_NE(out.find("loss_options.soft_margin': the cosface loss has no option 'soft_margin'"), std::string::npos)
      << out;
  fs::remove_all(dir);
}

namespace {

// config.json's "loss_options" as chalk wrote it before each loss declared its own: all 14 keys
// for every loss, -1 and "" meaning "the loss's default" (copied from a run of that version).
json old_bag() {
  return json::parse(R"({"centroids":"onehot","distance":"euclidean","easy_margin":false,"label_smoothing":0.0,
      "m1":1.0,"m2":0.3,"m3":0.2,"margin":-1.0,"mining":"hard","normalize":-1,"reduction":"","scale":-1.0,
      "soft_margin":false,"sphere_m":4})");
}

std::map<std::string, OptionValue> read_old(const std::string& loss, const json& bag) {
  TrainConfig c = test_util::small_config(loss);
  c.resolve();
  json j = json::parse(c.to_json());
  j["loss_options"] = bag;
  TrainConfig back = TrainConfig::from_json(j.dump());
  back.resolve();
  return back.loss_options.values;
}

}  // namespace

// The earlier format reads as the run trained: its sentinels as "not given" (so each loss's
// default), its values as given, and the keys of other losses (which the loss never read) left
// out. Every loss of the registry reads the bag of defaults as its own defaults.
TEST(LossOptions, TheEarlierFormatStillReads) {
  for (const LossEntry& e : loss_registry()) {
    TrainConfig fresh = test_util::small_config(e.name);
    fresh.resolve();
    EXPECT_EQ(read_old(e.name, old_bag()), fresh.loss_options.values) << e.name;
  }
  json bag = old_bag();
  bag["mining"] = "all", bag["normalize"] = 0, bag["margin"] = 0.3, bag["soft_margin"] = true;
  bag["scale"] = 3.0;  // the triplet loss never read it: the run trained without it
  const auto triplet = read_old("triplet", bag);
  EXPECT_EQ(triplet.at("mining"), OptionValue("all"));
  EXPECT_EQ(triplet.at("normalize"), OptionValue(false));
  EXPECT_EQ(triplet.at("margin"), OptionValue(0.3));
  EXPECT_EQ(triplet.at("soft_margin"), OptionValue(true));
  EXPECT_FALSE(triplet.count("reduction")) << "\"\" meant the mining's default";
  EXPECT_FALSE(triplet.count("scale"));
  bag = old_bag();
  bag["scale"] = 20.0, bag["easy_margin"] = true;
  const auto arc = read_old("arcface", bag);
  EXPECT_EQ(arc.at("scale"), OptionValue(20.0));
  EXPECT_EQ(arc.at("margin"), *find_option(find_loss("arcface"), "margin")->default_value) << "-1: the default";
  EXPECT_EQ(arc.at("easy_margin"), OptionValue(true));
  EXPECT_EQ(arc.size(), find_loss("arcface").options.size());
}

// A whole checkpoint of the earlier format: chalk-eval scores it and a resumed run continues it,
// with the options it was trained with.
TEST(LossOptions, AnEarlierCheckpointEvaluatesAndResumes) {
  const std::string dir = temp_dir("options_v1");
  std::string out;
  ASSERT_EQ(run_program(kTrain + " --epochs 1 --loss cosface --scale 20 --out " + dir, &out), 0) << out;
  const std::string ckpt = dir + "/checkpoint.safetensors";
  SafetensorsFile f = load_safetensors(ckpt);
  json config = json::parse(f.metadata.at("config"));
  json bag = old_bag();
  bag["scale"] = 20.0;  // what the earlier chalk wrote for --scale 20: margin -1, every other loss's keys
  config["loss_options"] = bag;
  f.metadata["config"] = config.dump();
  save_safetensors(ckpt, f.tensors, f.metadata);
  LossOptions want;  // the options given (--scale 20), and cosface's defaults for the others
  want.values = resolve_options(find_loss("cosface"), {{"scale", 20.0}});
  ASSERT_EQ(run_program("chalk-eval --threads 1 --data " + kSubset + " " + ckpt, &out), 0) << out;
  EXPECT_NE(out.find("options: " + option_values_str(want)), std::string::npos) << out;
  ASSERT_EQ(run_program("chalk-train --quiet --threads 1 --out " + dir + " --resume --epochs 2", &out), 0) << out;
  EXPECT_EQ(read_json(dir + "/config.json").at("loss_options"), as_json(want.values)) << "rewritten in the current format";
  fs::remove_all(dir);
}
