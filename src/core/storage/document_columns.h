// The change columns of a document chunk (format spec §2.4), shared by the writer
// (document_save.cc) and the reader (document_rows.cc). The op columns are in op_columns.h.
//
// Internal to am_core.
#pragma once

#include "core/encoding/column_spec.h"

namespace am::storage {

inline constexpr enc::ColumnSpec kChActor{0, enc::ColumnType::kActor};
inline constexpr enc::ColumnSpec kChSeq{0, enc::ColumnType::kDeltaInteger};
inline constexpr enc::ColumnSpec kChMaxOp{1, enc::ColumnType::kDeltaInteger};
inline constexpr enc::ColumnSpec kChTime{2, enc::ColumnType::kDeltaInteger};
inline constexpr enc::ColumnSpec kChMessage{3, enc::ColumnType::kString};
inline constexpr enc::ColumnSpec kChDepCount{4, enc::ColumnType::kGroup};
inline constexpr enc::ColumnSpec kChDepIndex{4, enc::ColumnType::kDeltaInteger};
inline constexpr enc::ColumnSpec kChExtraMeta{5, enc::ColumnType::kValueMetadata};
inline constexpr enc::ColumnSpec kChExtraRaw{5, enc::ColumnType::kValue};

}  // namespace am::storage
