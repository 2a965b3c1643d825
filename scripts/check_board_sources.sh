#!/usr/bin/env bash
# Syntax-check the board ports against the real Arduino cores and TFLM library (nothing is built or linked).
#
#   scripts/check_board_sources.sh MBED_CORE API_CORE CHIRALE [ESP32_STUBS]
#
# MBED_CORE    local copy of arduino/ArduinoCore-mbed (cores/, variants/ARDUINO_NANO33BLE/, libraries/PDM,
#              libraries/Wire are enough; bootloaders and libmbed.a are not needed).
# API_CORE     local copy of arduino/ArduinoCore-API (the core's cores/arduino/api is a link to its api/).
# CHIRALE      local copy of spaziochirale/Chirale_TensorFlowLite (its src/ holds the TFLM headers).
# ESP32_STUBS  optional: scripts/esp32_standin, headers standing in for Arduino-ESP32 2.0.x (Arduino.h, Wire.h,
#              driver/i2s.h, esp_timer.h, freertos/FreeRTOS.h, freertos/queue.h) for a host g++ check of
#              board_esp32.cpp, main.cpp and tflm_engine.cpp (with the real TFLM headers); see
#              docs/firmware.md for what that does and does not prove.
#
# Nano 33 BLE: main.cpp, board_nano33ble.cpp and tflm_engine.cpp go through arm-none-eabi-g++ -fsyntax-only
# with the variant's own flag files (cxxflags.txt, defines.txt, includes.txt), as the Arduino build does.
# Nothing is downloaded. Needs arm-none-eabi-g++ (Debian: gcc-arm-none-eabi). The board's compiler is GCC 7;
# the variant's -std=gnu++14 makes a newer GCC reject C++17-only syntax too.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: $0 MBED_CORE API_CORE CHIRALE [ESP32_STUBS]"
core=$(cd "${1:?$usage}" && pwd)
api=$(cd "${2:?$usage}" && pwd)
chirale=$(cd "${3:?$usage}" && pwd)
esp32=${4:-}
var="$core/variants/ARDUINO_NANO33BLE"
for need in "$var/cxxflags.txt" "$var/defines.txt" "$var/includes.txt" "$core/libraries/PDM/src/PDM.h" \
            "$api/api/ArduinoAPI.h" "$chirale/src/tensorflow/lite/micro/micro_interpreter.h"; do
  [ -f "$need" ] || { echo "missing $need" >&2; exit 2; }
done

# The variant's flag files go in as @files so their quoting survives; "-c" is dropped (we only parse).
cxxfile=$(mktemp)
trap 'rm -f "$cxxfile"' EXIT
grep -v -e '^-c$' "$var/cxxflags.txt" > "$cxxfile"

status=0
fw="$here/firmware"
for f in main.cpp board_nano33ble.cpp tflm_engine.cpp; do
  if arm-none-eabi-g++ -fsyntax-only "@$cxxfile" "@$var/defines.txt" \
      -DARDUINO=10819 -DARDUINO_ARCH_NRF52840 -DARDUINO_ARDUINO_NANO33BLE -DARDUINO_ARCH_MBED \
      -iprefix "$core/cores/arduino/" "@$var/includes.txt" \
      -I "$core/cores/arduino" -I "$api" -I "$api/api/deprecated" -I "$api/api/deprecated-avr-comp" \
      -I "$var" -I "$core/libraries/PDM/src" -I "$core/libraries/Wire" -I "$chirale/src" \
      -I "$fw/lib/kws_core/include" -I "$fw/src" -I "$fw/src/model" \
      -DKWS_BOARD_NAME='"nano33ble"' -DKWS_FW_VERSION='"0.1.0"' -Werror=return-type \
      -include "$core/cores/arduino/Arduino.h" "$fw/src/$f"; then
    echo "ok      nano33ble  $f"
  else
    echo "FAILED  nano33ble  $f"; status=1
  fi
done

# Every op the export can ask for (tinykws.export.carray.RESOLVER_METHODS) must exist as Add<Op>() in the
# TFLM library: compile tflm_engine.cpp once more against a copy of the model header that lists them all.
allops=$(mktemp -d)
trap 'rm -f "$cxxfile"; rm -rf "$allops"' EXIT
if PYTHONPATH="$here" python3 - "$fw/src/model/kws_model.h" "$allops/kws_model.h" <<'PY'
import re, sys
from tinykws.export.carray import RESOLVER_METHODS
methods = list(dict.fromkeys(RESOLVER_METHODS.values()))
h = open(sys.argv[1]).read()
h = re.sub(r"#define KWS_MODEL_NUM_OPS \d+", f"#define KWS_MODEL_NUM_OPS {len(methods)}", h)
h = re.sub(r"#define KWS_MODEL_OPS\(X\).*", "#define KWS_MODEL_OPS(X) " + " ".join(f"X({m})" for m in methods), h)
open(sys.argv[2], "w").write(h)
PY
then
  if arm-none-eabi-g++ -fsyntax-only "@$cxxfile" "@$var/defines.txt" \
      -DARDUINO=10819 -DARDUINO_ARCH_NRF52840 -DARDUINO_ARDUINO_NANO33BLE -DARDUINO_ARCH_MBED \
      -iprefix "$core/cores/arduino/" "@$var/includes.txt" \
      -I "$core/cores/arduino" -I "$api" -I "$api/api/deprecated" -I "$api/api/deprecated-avr-comp" \
      -I "$var" -I "$core/libraries/Wire" -I "$chirale/src" -I "$allops" \
      -I "$fw/lib/kws_core/include" -I "$fw/src" -include "$core/cores/arduino/Arduino.h" "$fw/src/tflm_engine.cpp"; then
    echo "ok      nano33ble  tflm_engine.cpp with every op in RESOLVER_METHODS"
  else
    echo "FAILED  nano33ble  tflm_engine.cpp with every op in RESOLVER_METHODS"; status=1
  fi
else
  echo "skipped the all-ops check (python3 could not import tinykws from $here)"
fi

if [ -n "$esp32" ]; then
  esp32=$(cd "$esp32" && pwd)
  for f in board_esp32.cpp main.cpp tflm_engine.cpp; do
    if g++ -std=gnu++14 -fsyntax-only -Wall -Wextra -Werror -DARDUINO=10819 -DARDUINO_ARCH_ESP32 -DESP32 \
        -I "$esp32" -isystem "$chirale/src" -I "$fw/lib/kws_core/include" -I "$fw/src" -I "$fw/src/model" \
        -DKWS_BOARD_NAME='"esp32dev"' -DKWS_I2S_SCK=26 -DKWS_I2S_WS=25 -DKWS_I2S_SD=33 "$fw/src/$f"; then
      echo "ok      esp32dev   $f (host g++ against stand-in headers)"
    else
      echo "FAILED  esp32dev   $f"; status=1
    fi
  done
fi
exit $status
