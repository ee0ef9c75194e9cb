// Core value types carried by queued signals between the training thread and the GUI thread.
#pragma once

#include <QMetaType>

#include "config.h"
#include "inference.h"
#include "routing_trace.h"
#include "training.h"

Q_DECLARE_METATYPE(moewb::Config)
Q_DECLARE_METATYPE(moewb::StepReport)
Q_DECLARE_METATYPE(moewb::EvalReport)
Q_DECLARE_METATYPE(moewb::InferenceModel)
Q_DECLARE_METATYPE(moewb::RoutingTrace)

namespace moewb {
void register_meta_types();
}
