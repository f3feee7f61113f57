#include "core/encoding/column_spec.h"

#include <gtest/gtest.h>

#include "core/util/deflate.h"
#include "support/hex.h"

namespace am::enc {
namespace {

using test::hex;

TEST(ColumnSpec, FieldsMatchTheSpecTable) {
  // Change-chunk columns from spec §2.3.
  EXPECT_EQ(ColumnSpec(0, ColumnType::kActor).raw(), 0x01u);
  EXPECT_EQ(ColumnSpec(1, ColumnType::kString).raw(), 0x15u);
  EXPECT_EQ(ColumnSpec(3, ColumnType::kBoolean).raw(), 0x34u);
  EXPECT_EQ(ColumnSpec(5, ColumnType::kValueMetadata).raw(), 0x56u);
  EXPECT_EQ(ColumnSpec(7, ColumnType::kGroup).raw(), 0x70u);
  EXPECT_EQ(ColumnSpec(10, ColumnType::kString).raw(), 0xa5u);
  const ColumnSpec d = ColumnSpec::from_raw(0x5f);
  EXPECT_EQ(d.id(), 5u);
  EXPECT_EQ(d.type(), ColumnType::kValue);
  EXPECT_TRUE(d.deflate());
  EXPECT_EQ(d.normalized(), 0x57u);
}

TEST(ColumnSetWriter, SortsAndOmitsEmptyColumns) {
  ColumnSetWriter w;
  w.add(ColumnSpec(4, ColumnType::kInteger), hex("7f 01"));
  w.add(ColumnSpec(1, ColumnType::kString), hex("7f 01 78"));
  w.add(ColumnSpec(0, ColumnType::kActor), Bytes{});
  Bytes meta, data;
  w.write_metadata(meta);
  w.write_data(data);
  EXPECT_EQ(meta, hex("02 15 03 42 02"));
  EXPECT_EQ(data, hex("7f 01 78 7f 01"));
}

TEST(ColumnMetadata, ParsesTheAnnotatedChangeVector) {
  const Bytes block = hex("06 15 03 34 01 42 02 56 02 57 01 70 02");
  ByteReader r(block);
  const auto meta = read_column_metadata(r, false);
  ASSERT_TRUE(meta) << meta.error().to_string();
  ASSERT_EQ(meta->size(), 6u);
  EXPECT_EQ((*meta)[0].spec.raw(), 0x15u);
  EXPECT_EQ((*meta)[0].length, 3u);
  EXPECT_EQ((*meta)[5].spec.raw(), 0x70u);
  EXPECT_TRUE(r.empty());
}

TEST(ColumnMetadata, RejectsUnsortedAndDuplicateSpecs) {
  const Bytes unsorted_bytes = hex("02 34 01 15 03");
  ByteReader unsorted(unsorted_bytes);
  EXPECT_FALSE(read_column_metadata(unsorted, false));
  const Bytes dup_bytes = hex("02 15 01 15 01");
  ByteReader dup(dup_bytes);
  EXPECT_FALSE(read_column_metadata(dup, false));
  const Bytes dup_deflate_bytes = hex("02 15 01 1d 01");
  ByteReader dup_deflate(dup_deflate_bytes);  // same column with and without deflate
  EXPECT_FALSE(read_column_metadata(dup_deflate, true));
}

TEST(ColumnMetadata, DeflateOnlyWhereAllowed) {
  const Bytes in_change_bytes = hex("01 1d 01");
  ByteReader in_change(in_change_bytes);
  EXPECT_FALSE(read_column_metadata(in_change, false));
  const Bytes in_doc_bytes = hex("01 1d 01");
  ByteReader in_doc(in_doc_bytes);
  EXPECT_TRUE(read_column_metadata(in_doc, true));
}

TEST(ColumnMetadata, RejectsHugeCountsAndLengths) {
  const Bytes huge_count_bytes = hex("ffffffff0f 15 01");
  ByteReader huge_count(huge_count_bytes);
  EXPECT_FALSE(read_column_metadata(huge_count, false));
  const Bytes spec_over_u32_bytes = hex("01 8080808010 01");
  ByteReader spec_over_u32(spec_over_u32_bytes);
  EXPECT_FALSE(read_column_metadata(spec_over_u32, false));
  const Bytes block = hex("01 15 ffffffff0f 7f 01 78");
  ByteReader r(block);
  const auto meta = read_column_metadata(r, false);
  ASSERT_TRUE(meta);
  EXPECT_FALSE(read_column_data(r, *meta));
}

TEST(ColumnSetWriter, DeflatesLargeColumnsOnly) {
  ColumnSetWriter w;
  Bytes big(300, 0x42);
  w.add(ColumnSpec(1, ColumnType::kString), Bytes{0x7f, 0x01, 0x78});
  w.add(ColumnSpec(5, ColumnType::kValue), big);
  w.deflate_large_columns(256);
  Bytes meta, data;
  w.write_metadata(meta);
  w.write_data(data);
  ByteReader r(meta);
  const auto parsed = read_column_metadata(r, true);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_FALSE((*parsed)[0].spec.deflate());
  EXPECT_TRUE((*parsed)[1].spec.deflate());
  ByteReader dr(data);
  const auto cols = read_column_data(dr, *parsed);
  ASSERT_TRUE(cols);
  EXPECT_EQ(util::inflate_raw((*cols)[1].data).value(), big);
}

}  // namespace
}  // namespace am::enc
