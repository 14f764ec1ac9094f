/* mef3pool.h - umbrella header of the mef3pool library. */
#ifndef MEF3POOL_H
#define MEF3POOL_H

#include "mef3pool/common.h"
#include "mef3pool/format.h"
#include "mef3pool/grid.h"
#include "mef3pool/reader.h"
#include "mef3pool/writer.h"
#include "mef3pool/gen.h"
#include "mef3pool/pool.h"
#include "mef3pool/files.h"

#endif
