// tests/test_resume.cpp — runs that stop and start again (issue "nothing silent", section 3):
// a resumed run takes its stored configuration, a contradicting flag is an error naming both
// values, extending a run is exact where it can be, metrics never run ahead of the checkpoint,
// a failed write fails the run, bad flags exit 2, and chalk-eval reports what the checkpoint had.
//   ctest --test-dir build -R Resume
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "test_util.h"
#include "train/trainer.h"

using namespace chalk;
using chalk::test_util::run_program;
using chalk::test_util::kSubset;
using chalk::test_util::temp_dir;
namespace fs = std::filesystem;

namespace {

const std::string& kTrain = test_util::kQuickTrain;

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

std::vector<int> epochs_in(const std::string& metrics_jsonl) {
  std::vector<int> out;
  for (const auto& l : lines_of(metrics_jsonl)) out.push_back(nlohmann::json::parse(l).at("epoch").get<int>());
  return out;
}

}  // namespace

// README's own command: `chalk-train --out runs/arcface --resume --epochs 8` needs no other flag.
TEST(Resume, TakesTheStoredConfiguration) {
  const std::string dir = temp_dir("resume_cfg");
  std::string out;
  ASSERT_EQ(run_program(kTrain + " --model mlp --loss cosface --emb-dim 16 --epochs 1 --out " + dir, &out), 0) << out;
  ASSERT_EQ(run_program("chalk-train --quiet --out " + dir + " --resume --epochs 2", &out), 0) << out;
  EXPECT_NE(out.find("CosFaceLoss"), std::string::npos) << "the stored loss is used: " << out;
  EXPECT_EQ(epochs_in(dir + "/metrics.jsonl"), (std::vector<int>{1, 2}));
  const auto cfg = nlohmann::json::parse(lines_of(dir + "/config.json").at(0));
  EXPECT_EQ(cfg.at("epochs"), 2) << "config.json follows the extended run";
  EXPECT_EQ(cfg.at("loss"), "cosface");
  EXPECT_EQ(cfg.at("emb_dim"), 16);
  fs::remove_all(dir);
}

TEST(Resume, AContradictingFlagIsAnErrorNamingBothValues) {
  const std::string dir = temp_dir("resume_contra");
  std::string out;
  ASSERT_EQ(run_program(kTrain + " --loss cosface --emb-dim 16 --epochs 1 --out " + dir, &out), 0) << out;
  const std::string before = lines_of(dir + "/metrics.jsonl").at(0);
  EXPECT_EQ(run_program("chalk-train --quiet --out " + dir + " --resume --epochs 2 --loss arcface", &out), 2) << out;
  EXPECT_NE(out.find("--loss \"arcface\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"cosface\""), std::string::npos) << out;
  EXPECT_EQ(run_program("chalk-train --quiet --out " + dir + " --resume --emb-dim 32", &out), 2) << out;
  EXPECT_NE(out.find("--emb-dim 32"), std::string::npos) << out;
  EXPECT_NE(out.find("emb_dim = 16"), std::string::npos) << out;
  // the same value as stored is no contradiction
  EXPECT_EQ(run_program("chalk-train --quiet --out " + dir + " --resume --epochs 1 --emb-dim 16 --loss cosface", &out),
            0) << out;
  EXPECT_EQ(lines_of(dir + "/metrics.jsonl"), (std::vector<std::string>{before})) << "nothing was overwritten";
  fs::remove_all(dir);
}

// Extending means: the run now has the new epoch count, and from the current step the learning
// rate follows the schedule of the longer run. With a constant schedule that is exactly the
// longer run, bit for bit; with cosine the earlier steps followed the shorter schedule, and the
// program says so.
TEST(Resume, ExtendingAConstantScheduleRunIsBitExact) {
  const std::string a = temp_dir("extend_a"), b = temp_dir("extend_b");
  std::string out;
  const std::string common = kTrain + " --schedule constant --seed 3";
  ASSERT_EQ(run_program(common + " --epochs 2 --out " + a, &out), 0) << out;
  ASSERT_EQ(run_program(common + " --epochs 1 --out " + b, &out), 0) << out;
  ASSERT_EQ(run_program(common + " --epochs 2 --resume --out " + b, &out), 0) << out;
  const SafetensorsFile fa = load_safetensors(a + "/checkpoint.safetensors");
  const SafetensorsFile fb = load_safetensors(b + "/checkpoint.safetensors");
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (const auto& [name, t] : fa.tensors) {
    const Tensor& u = fb.tensors.at(name);
    ASSERT_EQ(t.numel(), u.numel()) << name;
    EXPECT_EQ(std::memcmp(t.impl()->storage->data, u.impl()->storage->data, t.numel() * dtype_size(t.dtype())), 0)
        << name << " differs between 2 epochs straight and 1 + 1";
  }
  const auto ma = lines_of(a + "/metrics.jsonl"), mb = lines_of(b + "/metrics.jsonl");
  ASSERT_EQ(ma.size(), 2u);
  ASSERT_EQ(mb.size(), 2u);
  for (int i = 0; i < 2; ++i)
    for (const char* key : {"train_loss", "test_loss", "test_accuracy", "precision_at_1", "lr"})
      EXPECT_EQ(nlohmann::json::parse(ma[i]).at(key), nlohmann::json::parse(mb[i]).at(key)) << key;
  // cosine: the program says what extending does to the schedule
  const std::string c = temp_dir("extend_c");
  ASSERT_EQ(run_program(kTrain + " --epochs 1 --out " + c, &out), 0) << out;
  ASSERT_EQ(run_program(kTrain + " --epochs 2 --resume --out " + c, &out), 0) << out;
  EXPECT_NE(out.find("extending a 1-epoch run to 2 epochs"), std::string::npos) << out;
  for (const auto& d : {a, b, c}) fs::remove_all(d);
}

// metrics.jsonl is written from the checkpoint's own history after each save: whatever a kill
// left in it, a resumed run rewrites it to match the checkpoint (never 1 2 2).
TEST(Resume, MetricsNeverRunAheadOfTheCheckpoint) {
  const std::string dir = temp_dir("resume_metrics");
  std::string out;
  ASSERT_EQ(run_program(kTrain + " --epochs 1 --out " + dir, &out), 0) << out;
  {  // a kill during the epoch-2 save of the old order: metrics.jsonl already said epoch 2
    std::ofstream f(dir + "/metrics.jsonl", std::ios::app);
    f << lines_of(dir + "/metrics.jsonl").at(0) << "\n";
  }
  ASSERT_EQ(run_program(kTrain + " --epochs 2 --resume --out " + dir, &out), 0) << out;
  EXPECT_EQ(epochs_in(dir + "/metrics.jsonl"), (std::vector<int>{1, 2}));
  fs::remove_all(dir);
}

// A write that fails (here metrics.jsonl's temporary file is a link to /dev/full, where writes
// fail with ENOSPC and fsync with EINVAL) fails the run with the file named, and leaves no
// half-written file behind.
TEST(Resume, AFailedWriteFailsTheRun) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this machine";
  const std::string dir = temp_dir("resume_enospc");
  fs::create_symlink("/dev/full", dir + "/metrics.jsonl.tmp");
  std::string out;
  EXPECT_EQ(run_program(kTrain + " --epochs 1 --out " + dir, &out), 1) << out;
  EXPECT_NE(out.find("metrics.jsonl"), std::string::npos) << out;
  EXPECT_NE(out.find("failed"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir + "/metrics.jsonl")) << "no empty or partial metrics.jsonl";
  fs::remove_all(dir);
}

// README: "bad data (a checkpoint that is empty, truncated or not chalk's included) ... exit with
// 1"; a folder without a checkpoint is a bad --out, exit 2 like every bad flag.
TEST(Resume, AnUnreadableCheckpointIsBadDataExit1) {
  const std::string dir = temp_dir("resume_bad_ckpt");
  const std::string ckpt = dir + "/checkpoint.safetensors";
  std::string out;
  EXPECT_EQ(run_program("chalk-train --quiet --out " + dir + " --resume", &out), 2) << "no checkpoint: " << out;
  EXPECT_NE(out.find("checkpoint.safetensors"), std::string::npos) << out;
  ASSERT_EQ(run_program(kTrain + " --epochs 1 --out " + dir, &out), 0) << out;
  const auto size = fs::file_size(ckpt);
  ASSERT_GT(size, 100u);
  for (const std::uintmax_t keep : {std::uintmax_t{0}, std::uintmax_t{5}, size / 2, size - 1}) {
    fs::resize_file(ckpt, keep);
    EXPECT_EQ(run_program("chalk-train --quiet --out " + dir + " --resume --epochs 2", &out), 1)
        << "checkpoint cut to " << keep << " of " << size << " bytes: " << out;
    EXPECT_NE(out.find(ckpt), std::string::npos) << "the message names the file: " << out;
  }
  std::ofstream(ckpt, std::ios::trunc) << "not a checkpoint at all";
  EXPECT_EQ(run_program("chalk-train --quiet --out " + dir + " --resume", &out), 1) << out;
  fs::remove_all(dir);
}

TEST(Resume, NumericFlagsOutOfRangeExitWithStatus2) {
  std::string out;
  for (const std::string flags : {"--lr -5", "--lr nan", "--lr inf", "--lr 0", "--lr abc", "--emb-dim 0 --loss arcface",
                                  "--momentum nan", "--weight-decay inf", "--scale nan --loss cosface",
                                  "--label-smoothing nan", "--margin inf --loss triplet", "--warmup-steps -2"}) {
    EXPECT_EQ(run_program("chalk-train --epochs 1 " + flags, &out), 2) << flags << ": " << out;
    const std::string flag = flags.substr(0, flags.find(' '));
    EXPECT_NE(out.find(flag), std::string::npos) << "the message names " << flag << ": " << out;
  }
  // the help shows each loss's real defaults (from the registry)
  ASSERT_EQ(run_program("chalk-train --help", &out), 0);
  for (const auto& e : loss_registry())
    EXPECT_NE(out.find(e.name + ": " + e.description), std::string::npos) << e.name;
  EXPECT_NE(out.find("sgd lr 0.01"), std::string::npos) << "the margin losses' learning rate: " << out;
  EXPECT_NE(out.find("adam lr 0.001"), std::string::npos) << "the triplet loss's optimizer: " << out;
}

TEST(Resume, ChalkEvalReportsWhatTheCheckpointHad) {
  const std::string dir = temp_dir("eval");
  std::string out;
  ASSERT_EQ(run_program(kTrain + " --epochs 1 --out " + dir, &out), 0) << out;
  const std::string ckpt = dir + "/checkpoint.safetensors";
  ASSERT_EQ(run_program("chalk-eval --threads 1 --data " + kSubset + " " + ckpt, &out), 0) << out;
  EXPECT_EQ(out.find("train loss"), std::string::npos) << "no invented training loss: " << out;
  // the learning rate of the last step: the run's schedule (cosine over 4 steps, softmax's default
  // warm-up) at step 3, not the optimizer's initial rate
  TrainConfig c;
  c.resolve();
  const double want = nn::make_schedule("cosine", c.lr, 4, c.resolved_warmup_steps(4)).lr_at(3);
  ASSERT_NE(want, c.lr);
  const auto j = nlohmann::json::parse(out.substr(out.rfind('{')));
  EXPECT_NEAR(j.at("lr").get<double>(), want, 1e-12) << out;
  // a file that is not a checkpoint says so
  std::ofstream(dir + "/notes.txt") << "hello";
  EXPECT_EQ(run_program("chalk-eval " + dir + "/notes.txt", &out), 1) << out;
  EXPECT_NE(out.find("is not a chalk checkpoint"), std::string::npos) << out;
  // checkpoint metadata that is not what chalk wrote names the field
  SafetensorsFile f = load_safetensors(ckpt);
  f.metadata["global_step"] = "abc";
  save_safetensors(dir + "/bad.safetensors", f.tensors, f.metadata);
  EXPECT_EQ(run_program("chalk-eval --data " + kSubset + " " + dir + "/bad.safetensors", &out), 1) << out;
  EXPECT_NE(out.find("global_step"), std::string::npos) << out;
  EXPECT_NE(out.find("bad.safetensors"), std::string::npos) << out;
  fs::remove_all(dir);
}

// The write every run file goes through (io/atomic_file.h): on a full disk it names the file and
// the reason, and the file it replaces is unchanged.
TEST(Resume, AtomicWriteOnAFullDiskLeavesTheOldFile) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this machine";
  const std::string dir = temp_dir("atomic_full");
  write_text_atomically(dir + "/a.txt", "old\n", "test");
  fs::create_symlink("/dev/full", dir + "/a.txt.tmp");
  const std::string msg = chalk::test_util::error_of([&] { write_text_atomically(dir + "/a.txt", "new\n", "test"); });
  EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a.txt"), std::string::npos) << msg;
  EXPECT_EQ(lines_of(dir + "/a.txt"), (std::vector<std::string>{"old"}));
  EXPECT_FALSE(fs::exists(dir + "/a.txt.tmp"));
  fs::remove_all(dir);
}
