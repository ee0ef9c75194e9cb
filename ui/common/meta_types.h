// Core value types carried by queued signals between the training thread and the GUI thread.
#pragma once

#include <QMetaType>

#include "core/config/config.h"
#include "core/inference/inference.h"
#include "core/trace/routing_trace.h"
#include "core/train/training.h"

Q_DECLARE_METATYPE(moewb::Config)
Q_DECLARE_METATYPE(moewb::StepReport)
Q_DECLARE_METATYPE(moewb::EvalReport)
Q_DECLARE_METATYPE(moewb::InferenceModel)
Q_DECLARE_METATYPE(moewb::RoutingTrace)

namespace moewb {
void register_meta_types();
}
