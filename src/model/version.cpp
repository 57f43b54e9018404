#include "seqnet/seqnet.h"

namespace seqnet {
const char* version() { return SEQNET_VERSION; }
}  // namespace seqnet
