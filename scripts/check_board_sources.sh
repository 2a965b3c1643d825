#!/usr/bin/env bash
# Syntax-check the board ports against the real Arduino cores (nothing is built or linked).
#
#   scripts/check_board_sources.sh MBED_CORE API_CORE [ESP32_STUBS]
#
# MBED_CORE    local copy of arduino/ArduinoCore-mbed (cores/, variants/ARDUINO_NANO33BLE/, libraries/PDM
#              are enough; bootloaders and libmbed.a are not needed).
# API_CORE     local copy of arduino/ArduinoCore-API (the core's cores/arduino/api is a link to its api/).
# ESP32_STUBS  optional: scripts/esp32_standin, headers standing in for Arduino-ESP32 2.0.x (Arduino.h,
#              driver/i2s.h, esp_timer.h, freertos/FreeRTOS.h, freertos/queue.h) for a host g++ check of
#              ports/esp32dev/port_esp32dev.cpp and the app/ sources (-std=gnu++11 like Arduino-ESP32 2.0.x);
#              see docs/firmware.md for what that does and does not prove.
#
# The firmware has one inference engine, the native one (app/native_engine.c); no TFLM source is an app source.
#
# Nano 33 BLE: the app/ sources (main.cpp, kws_model_data.cpp) and
# ports/nano33ble/port_nano33ble.cpp go through arm-none-eabi-g++ -fsyntax-only with the variant's own flag
# files (cxxflags.txt, defines.txt, includes.txt), as the Arduino build does; the app's C files
# (native_engine.c, kws_app_config.c) with arm-none-eabi-gcc
# and the board's committed C flags (firmware/board_flags/nano33ble.txt). Nothing is downloaded. Needs
# arm-none-eabi-g++ (Debian: gcc-arm-none-eabi). PlatformIO compiles the project with GCC 7.2.1
# (toolchain-gccarmnoneeabi 1.70201; the core's precompiled libmbed.a was built with GCC 9, 2019-q4); the
# variant's -std=gnu++14 (from cxxflags.txt) makes a newer GCC reject C++17-only syntax too.
#
# Language levels: Nano 33 BLE -std=gnu++14 (the variant's cxxflags.txt), ESP32 -std=gnu++11 (what
# Arduino-ESP32 2.0.x compiles C++ with). tests/firmware/test_board_sources_std.py checks both.
#
# The model (kws_model.h, kws_model.cc, kws_feature_spec.h) comes from firmware/model, or from the folder
# in TINYKWS_MODEL_DIR (relative to the repository root), as in the PlatformIO build.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: $0 MBED_CORE API_CORE [ESP32_STUBS]"
core=$(cd "${1:?$usage}" && pwd)
api=$(cd "${2:?$usage}" && pwd)
esp32=${3:-}
var="$core/variants/ARDUINO_NANO33BLE"
for need in "$var/cxxflags.txt" "$var/defines.txt" "$var/includes.txt" "$core/libraries/PDM/src/PDM.h" \
            "$api/api/ArduinoAPI.h"; do
  [ -f "$need" ] || { echo "missing $need" >&2; exit 2; }
done

# The variant's flag files go in as @files so their quoting survives; "-c" is dropped (we only parse).
cxxfile=$(mktemp)
trap 'rm -f "$cxxfile"' EXIT
grep -v -e '^-c$' "$var/cxxflags.txt" > "$cxxfile"

status=0
fw="$here/firmware"
model=$(cd "$here" && cd "${TINYKWS_MODEL_DIR:-firmware/model}" && pwd)
for need in kws_model.h kws_model.cc kws_feature_spec.h; do
  [ -f "$model/$need" ] || { echo "missing $model/$need" >&2; exit 2; }
done
app_sources="app/main.cpp app/kws_model_data.cpp"
app_c_sources="app/native_engine.c app/kws_app_config.c"
for f in $app_sources ports/nano33ble/port_nano33ble.cpp; do
  if arm-none-eabi-g++ -fsyntax-only "@$cxxfile" "@$var/defines.txt" \
      -DARDUINO=10819 -DARDUINO_ARCH_NRF52840 -DARDUINO_ARDUINO_NANO33BLE -DARDUINO_ARCH_MBED \
      -iprefix "$core/cores/arduino/" "@$var/includes.txt" \
      -I "$core/cores/arduino" -I "$api" -I "$api/api/deprecated" -I "$api/api/deprecated-avr-comp" \
      -I "$var" -I "$core/libraries/PDM/src" \
      -I "$fw/lib/kws_core/include" -I "$fw/lib/kws_nn/include" -I "$fw/app" -I "$model" \
      -DKWS_BOARD_NAME='"nano33ble"' -DKWS_FW_VERSION='"0.1.0"' -Werror=return-type \
      -include "$core/cores/arduino/Arduino.h" "$fw/$f"; then
    echo "ok      nano33ble  $f"
  else
    echo "FAILED  nano33ble  $f"; status=1
  fi
done
# The app's C files with the board's real C flags (firmware/board_flags/nano33ble.txt).
cflags=$(sed -n 's/^c: //p' "$fw/board_flags/nano33ble.txt")
for f in $app_c_sources; do
  if arm-none-eabi-gcc -fsyntax-only $cflags -Wall -Wextra -Werror \
      -I "$fw/lib/kws_core/include" -I "$fw/lib/kws_nn/include" -I "$fw/app" -I "$model" "$fw/$f"; then
    echo "ok      nano33ble  $f"
  else
    echo "FAILED  nano33ble  $f"; status=1
  fi
done

if [ -n "$esp32" ]; then
  esp32=$(cd "$esp32" && pwd)
  for f in ports/esp32dev/port_esp32dev.cpp $app_sources; do
    if g++ -std=gnu++11 -fsyntax-only -Wall -Wextra -Werror -DARDUINO=10819 -DARDUINO_ARCH_ESP32 -DESP32 \
        -I "$esp32" -I "$fw/lib/kws_core/include" \
        -I "$fw/lib/kws_nn/include" -I "$fw/app" -I "$model" \
        -DKWS_BOARD_NAME='"esp32dev"' -DKWS_I2S_SCK=26 -DKWS_I2S_WS=25 -DKWS_I2S_SD=33 "$fw/$f"; then
      echo "ok      esp32dev   $f (host g++ against stand-in headers)"
    else
      echo "FAILED  esp32dev   $f"; status=1
    fi
  done
  # Arduino-ESP32 2.0.x compiles C as gnu99.
  for f in $app_c_sources; do
    if gcc -std=gnu99 -fsyntax-only -Wall -Wextra -Werror -DARDUINO_ARCH_ESP32 -DESP32 \
        -I "$fw/lib/kws_core/include" -I "$fw/lib/kws_nn/include" -I "$fw/app" -I "$model" "$fw/$f"; then
      echo "ok      esp32dev   $f (host gcc -std=gnu99)"
    else
      echo "FAILED  esp32dev   $f"; status=1
    fi
  done
fi
exit $status
