// Scrolling a form must never edit it: spin boxes, combo boxes and sliders take the mouse wheel only when they
// have the keyboard focus (clicked or tabbed into). Otherwise the wheel goes to the scroll area around them.
#pragma once

class QWidget;

namespace moewb {

// Guards every spin box, combo box and slider below `root` that exists now.
void guard_wheel_events(QWidget* root);

}  // namespace moewb
