#!/usr/bin/env bash
# Syntax-check the Nano 33 BLE port against the real Arduino mbed core, with the variant's own flags.
#
#   scripts/check_board_sources.sh MBED_CORE [TFLM_LIB]
#
# MBED_CORE: a local copy of ArduinoCore-mbed whose cores/arduino/api points at ArduinoCore-API's api/.
# TFLM_LIB:  optional local copy of Chirale_TensorFLowLite (its src/), to check tflm_engine.cpp too.
# Nothing is downloaded. Needs arm-none-eabi-g++ (Debian: gcc-arm-none-eabi).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
core=${1:?usage: $0 MBED_CORE [TFLM_LIB]}
tflm=${2:-}
var="$core/variants/ARDUINO_NANO33BLE"
cxxfile=$(mktemp)
trap 'rm -f "$cxxfile"' EXIT
grep -v -e '^-c$' "$var/cxxflags.txt" > "$cxxfile"
files=(firmware/src/main.cpp firmware/src/board_nano33ble.cpp)
extra=()
if [ -n "$tflm" ]; then files+=(firmware/src/tflm_engine.cpp); extra+=(-I "$tflm/src" -I "$core/libraries/Wire"); fi
status=0
for f in "${files[@]}"; do
  # The variant's flag files go in as @files so their quoting survives.
  if arm-none-eabi-g++ -fsyntax-only -mcpu=cortex-m4 -mthumb -mfloat-abi=softfp -mfpu=fpv4-sp-d16 "@$cxxfile" "@$var/defines.txt" \
      -DARDUINO=10819 -DARDUINO_ARCH_NRF52840 -DARDUINO_ARDUINO_NANO33BLE -DARDUINO_ARCH_MBED \
      -iprefix "$core/cores/arduino" "@$var/includes.txt" -I "$core/cores/arduino" -I "$core/cores/arduino/api/deprecated" \
      -I "$var" -I "$core/libraries/PDM/src" "${extra[@]}" \
      -I "$here/firmware/lib/kws_core/include" -I "$here/firmware/src" -I "$here/firmware/src/model" \
      -DKWS_BOARD_NAME='"nano33ble"' -include "$core/cores/arduino/Arduino.h" "$here/$f"; then
    echo "ok      $f"
  else
    echo "FAILED  $f"; status=1
  fi
done
exit $status
