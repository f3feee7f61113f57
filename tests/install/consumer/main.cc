// A downstream program built against the installed library (tests/install/consumer_test.sh).
#include <cstdio>
#include <string>

#include <am/document.h>

int main() {
  am::Document doc;
  if (auto st = doc.put(am::ObjId::root(), "hello", std::string("world")); !st) {
    std::fprintf(stderr, "put: %s\n", st.error().to_string().c_str());
    return 1;
  }
  doc.commit();
  const am::Bytes bytes = doc.save();
  auto loaded = am::Document::load(bytes);
  if (!loaded) {
    std::fprintf(stderr, "load: %s\n", loaded.error().to_string().c_str());
    return 1;
  }
  auto json = loaded->to_json();
  if (!json) {
    std::fprintf(stderr, "to_json: %s\n", json.error().to_string().c_str());
    return 1;
  }
  std::printf("%s\n", json->c_str());
  return 0;
}
