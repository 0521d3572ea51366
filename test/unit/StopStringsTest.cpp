//===- StopStringsTest.cpp - Stop strings across token boundaries ---------===//
#include "moela/Runtime/StopStrings.h"

#include <gtest/gtest.h>

using namespace moela;

namespace {

/// Feeds `pieces` and returns everything released (push, then flush).
std::string run(StopStrings &stop, const std::vector<std::string> &pieces) {
  std::string out;
  for (const std::string &p : pieces)
    out += stop.push(p);
  return out + stop.flush();
}

TEST(StopStrings, CutAcrossPieces) {
  StopStrings stop({"END"});
  EXPECT_EQ(stop.push("abc E"), "abc ");
  EXPECT_EQ(stop.push("N"), "");
  EXPECT_EQ(stop.push("Dxyz"), "");
  EXPECT_TRUE(stop.stopped());
  EXPECT_EQ(stop.push("more"), "");
  EXPECT_EQ(stop.flush(), "");
}

TEST(StopStrings, FalseStartIsReleased) {
  StopStrings stop({"END"});
  EXPECT_EQ(run(stop, {"EN", "x", "E"}), "ENxE");
  EXPECT_FALSE(stop.stopped());
}

TEST(StopStrings, EarliestOfSeveralWins) {
  StopStrings stop({"world", "lo"});
  EXPECT_EQ(run(stop, {"hel", "lo world"}), "hel");
  EXPECT_TRUE(stop.stopped());
}

TEST(StopStrings, NoStopsPassesEverything) {
  StopStrings stop({});
  EXPECT_EQ(stop.push("a"), "a");
  EXPECT_EQ(run(stop, {"b", "c"}), "bc");
}

TEST(StopStrings, EmptyStopIsAnError) {
  EXPECT_THROW(StopStrings({""}), std::exception);
}

} // namespace
