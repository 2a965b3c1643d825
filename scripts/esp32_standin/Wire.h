#pragma once
// Stand-in: Chirale peripherals.h includes Wire.h; nothing of it is used.
