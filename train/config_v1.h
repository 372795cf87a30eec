// train/config_v1.h — config.json's earlier "loss_options", still read (TrainConfig::from_json).
//
// Before each loss declared its own options (losses/options.h), chalk wrote one bag of options
// for every run, whatever its loss: the same 14 keys, four of them with a value that meant "the
// loss's default" (-1, ""). Checkpoints and config.json files of that format keep loading: this
// turns their "loss_options" into what the current format holds.
#pragma once

#include <nlohmann/json.hpp>

#include "losses/loss.h"

namespace chalk {

// True when `loss_options` is the earlier bag: it holds every one of the bag's keys.
bool is_v1_loss_options(const nlohmann::json& loss_options);

// The bag as the current format would hold it: without the values that meant "the loss's
// default", and (for a registry loss) without the keys the loss has no option for: the loss
// never read them, so the run trained without them. `loss` is nullptr for a loss that is not in
// the registry (its keys are kept; only that loss can tell which it read).
nlohmann::json loss_options_of_v1(const nlohmann::json& loss_options, const LossEntry* loss);

}  // namespace chalk
