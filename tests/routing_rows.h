// The data rows every per-routing test runs over: each routing mode with each expert shape, plus top-k with
// capacity. Columns routing (QString), shape (QString), capacity (bool).
#pragma once

#include <QtTest>

#include <string>

inline void add_routing_rows() {
  QTest::addColumn<QString>("routing");
  QTest::addColumn<QString>("shape");
  QTest::addColumn<bool>("capacity");
  for (const char* shape : {"mlp", "linear"}) {
    for (const char* routing : {"softmax", "topk", "sigmoid", "hash"})
      QTest::newRow((std::string(routing) + " " + shape).c_str()) << routing << shape << false;
    QTest::newRow((std::string("topk capacity ") + shape).c_str()) << "topk" << shape << true;
  }
}
