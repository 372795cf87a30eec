// io/mnist.h — the data sets in MNIST's file format (MNIST, Fashion-MNIST): what each is, where
// its files are, and how a split is read.
//
//   auto where = chalk::locate_dataset(chalk::find_dataset("fashion-mnist"), data_flag);
//   std::cout << "data: " << where.description << "\n";   // --data DIR, else full, else shipped subset
//   chalk::MnistSplit train = chalk::load_mnist(where.dir, /*train=*/true);
//   where.dataset.class_names[train.labels[0]];            // "Ankle boot"
//
// The Mnist* names are the file format's: Fashion-MNIST uses MNIST's four IDX files, image size
// and split, so the same reader and the same checks serve both.
//
// Images stay as bytes in memory (47 MB for the full training set); train/batches.h turns the
// images of one batch into a normalised float tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chalk {

// ---- the files ----

// One split (training or test) of a data set in MNIST's format.
struct MnistSplit {
  std::vector<std::uint8_t> images;  // n * rows * cols pixels, 0..255, image after image
  std::vector<std::int64_t> labels;  // n labels, 0..9 (the data set's class_names[label])
  std::int64_t n = 0, rows = 0, cols = 0;
};

// Load the training (train-*) or test (t10k-*) split from `dir`, which holds
// the standard file names, each raw or with .gz appended:
//   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
// Throws chalk::Error naming the file if one is missing or damaged (io/idx.h), or readable but
// not usable: no images, images that are not 28 x 28, a label outside 0..9, or a label count
// that differs from the image count.
MnistSplit load_mnist(const std::string& dir, bool train);

// ---- the data sets ----

// A data set chalk knows by name: 60,000 training and 10,000 test images of 28 x 28 grey pixels in
// ten classes, as MNIST's four IDX files.
struct Dataset {
  std::string name;                      // what --dataset takes and config.json records: "mnist"
  std::string display_name;              // what a person reads: "MNIST", "Fashion-MNIST"
  std::vector<std::string> class_names;  // label k is class_names[k]: "0".."9"; "T-shirt/top", ...
  // The full set's folder: relative to the data folder (<data>, below) or absolute.
  std::string full_dir;
  std::string full_hint;                 // how to get the full set, for messages
  std::string subset_dir;                // the shipped subset's folder, relative to <data>
  std::int64_t num_classes() const { return static_cast<std::int64_t>(class_names.size()); }
};

// The data sets chalk knows, the default ("mnist") first:
//   mnist          MNIST (LeCun, Bottou, Bengio, Haffner 1998): handwritten digits 0..9.
//                  Full set: <data>/mnist-full (scripts/fetch-mnist.sh).
//   fashion-mnist  Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747): Zalando's
//                  article images, classes T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal,
//                  Shirt, Sneaker, Bag, Ankle boot. Full set: /usr/share/datasets/fashion-mnist
//                  (Debian's dataset-fashion-mnist; scripts/install-deps.sh --with-fashion-mnist).
// Each has a subset of 7,000 images shipped in <data>/<name>-subset (scripts/make-mnist-subset.py).
const std::vector<Dataset>& dataset_registry();
// The names of dataset_registry(), in order: {"mnist", "fashion-mnist"}.
std::vector<std::string> dataset_names();
// The data set called `name`. Throws chalk::Error naming it and the known names.
const Dataset& find_dataset(const std::string& name);
// The name of the data set whose full or shipped-subset folder `dir` is (the same folder, however
// it is spelled), or "" when it is none of them. <data> as below.
std::string dataset_of_folder(const std::string& dir, const std::string& data_root = "");

// Where a data set's files are, and why that folder was chosen.
enum class MnistSource {
  Given,   // the folder the user asked for (--data DIR)
  Full,    // the full 70,000 images (Dataset::full_dir)
  Subset,  // the 7,000 images shipped with chalk (Dataset::subset_dir)
};
struct MnistLocation {
  Dataset dataset;          // which data set the files hold (its name, class names, ...)
  std::string dir;
  MnistSource source = MnistSource::Subset;
  std::string description;  // one line for the program to print, naming the data set
};

// Pick the folder of `dataset`'s files: `data_dir` if not empty (it must hold all four files),
// else its full set if all four files are there, else its shipped subset. <data> is `data_root`
// if given, else CHALK_DATA_DIR (set by CMake to the repository's data/ folder). The description
// names the data set, the folder and why ("Fashion-MNIST from DIR (--data, --dataset
// fashion-mnist)"). Throws chalk::Error naming the folder and the missing file when `data_dir`
// lacks one, or naming both folders when neither the full set nor the subset is there.
MnistLocation locate_dataset(const Dataset& dataset, const std::string& data_dir = "",
                             const std::string& data_root = "");
// locate_dataset(find_dataset("mnist"), data_dir, data_root).
MnistLocation locate_mnist(const std::string& data_dir = "", const std::string& data_root = "");

// The folder of a data set's 7,000-image subset shipped in the repository (<data>/<name>-subset,
// <data> as above): what the demos train on unless given --data. Throws for an unknown name.
std::string subset_dir(const std::string& dataset = "mnist");
// subset_dir("mnist").
std::string mnist_subset_dir();

// True if `dir` holds the four files of MNIST's format (each raw or .gz).
bool has_mnist_files(const std::string& dir);

}  // namespace chalk
