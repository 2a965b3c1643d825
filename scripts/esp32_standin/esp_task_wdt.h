// Stand-in for ESP-IDF 4.4 esp_task_wdt.h: the task watchdog calls port_esp32dev.cpp makes.
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "freertos/FreeRTOS.h"
typedef int esp_err_t;  // esp_err.h
typedef void *TaskHandle_t;  // freertos/task.h
extern "C" {
esp_err_t esp_task_wdt_init(uint32_t timeout_seconds, bool panic);
esp_err_t esp_task_wdt_add(TaskHandle_t task);  // NULL: the calling task
esp_err_t esp_task_wdt_reset(void);
}
