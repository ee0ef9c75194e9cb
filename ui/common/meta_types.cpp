#include "ui/common/meta_types.h"

namespace moewb {

void register_meta_types() {
  qRegisterMetaType<Config>();
  qRegisterMetaType<StepReport>();
  qRegisterMetaType<EvalReport>();
  qRegisterMetaType<InferenceModel>();
  qRegisterMetaType<RoutingTrace>();
}

}  // namespace moewb
