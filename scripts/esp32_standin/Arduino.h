// Stand-in for Arduino-ESP32 2.0.x Arduino.h: only the declarations port_esp32dev.cpp uses,
// with the signatures of cores/esp32/HardwareSerial.h and esp32-hal-gpio.h (2.0.x).
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "freertos/FreeRTOS.h"
#define LOW 0x0
#define HIGH 0x1
#define OUTPUT 0x03
#define SERIAL_8N1 0x800001c
class HardwareSerial {
public:
    void begin(unsigned long baud, uint32_t config = SERIAL_8N1, int8_t rxPin = -1, int8_t txPin = -1,
               bool invert = false, unsigned long timeout_ms = 20000UL, uint8_t rxfifo_full_thrhd = 112);
    int available(void);
    int availableForWrite(void);
    int read(void);
    size_t write(uint8_t);
    size_t write(const uint8_t *buffer, size_t size);
    size_t setRxBufferSize(size_t new_size);
    size_t setTxBufferSize(size_t new_size);
    operator bool() const;
};
extern HardwareSerial Serial;
extern "C" {
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t val);
unsigned long millis(void);
unsigned long micros(void);
void delay(uint32_t ms);  // esp32-hal-misc.c: vTaskDelay
}
static const uint8_t LED_BUILTIN = 2;  // variants/esp32/pins_arduino.h (not a macro there)
