// `moewb-cli presets` and `moewb-cli keys`: the built-in presets and the config keys, printed.
#include "app/cli/info_commands.h"

#include <functional>
#include <iostream>

namespace moewb {

namespace {

Command add_listing(CLI::App& root, const std::string& name, const std::string& description,
                    const std::function<std::string()>& text) {
  CLI::App* app = root.add_subcommand(name, description);
  return {app, [text] {
            std::cout << text();
            return 0;
          }};
}

std::string presets_text() {
  std::string out;
  for (const auto& name : preset_names()) out += name + ":\n" + to_json(preset(name)) + "\n";
  return out;
}

}  // namespace

Command add_presets(CLI::App& root) { return add_listing(root, "presets", "print the built-in presets", presets_text); }

Command add_keys(CLI::App& root) {
  return add_listing(root, "keys", "print every config key (type, default, allowed values, help) as a Markdown table",
                     config_keys_markdown);
}

}  // namespace moewb
