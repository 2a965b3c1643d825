// Stand-in for IDF 4.4 driver/i2s.h + hal/i2s_types.h as shipped in Arduino-ESP32 2.0.x
// (tools/sdk/esp32/include/driver/include/driver/i2s.h): the types, fields and functions used.
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "freertos/FreeRTOS.h"
typedef int esp_err_t;
#define ESP_OK 0
#define ESP_INTR_FLAG_LEVEL1 (1 << 1)
#define I2S_PIN_NO_CHANGE (-1)
extern "C" {
typedef enum { I2S_NUM_0 = 0, I2S_NUM_1 = 1, I2S_NUM_MAX } i2s_port_t;
typedef enum { I2S_BITS_PER_SAMPLE_8BIT = 8, I2S_BITS_PER_SAMPLE_16BIT = 16, I2S_BITS_PER_SAMPLE_24BIT = 24,
               I2S_BITS_PER_SAMPLE_32BIT = 32 } i2s_bits_per_sample_t;
typedef enum { I2S_BITS_PER_CHAN_DEFAULT = 0, I2S_BITS_PER_CHAN_32BIT = 32 } i2s_bits_per_chan_t;
typedef enum { I2S_COMM_FORMAT_STAND_I2S = 0x01, I2S_COMM_FORMAT_STAND_MSB = 0x02 } i2s_comm_format_t;
typedef enum { I2S_CHANNEL_FMT_RIGHT_LEFT = 0x00, I2S_CHANNEL_FMT_ALL_RIGHT, I2S_CHANNEL_FMT_ALL_LEFT,
               I2S_CHANNEL_FMT_ONLY_RIGHT, I2S_CHANNEL_FMT_ONLY_LEFT } i2s_channel_fmt_t;
typedef enum { I2S_MODE_MASTER = 1, I2S_MODE_SLAVE = 2, I2S_MODE_TX = 4, I2S_MODE_RX = 8 } i2s_mode_t;
typedef enum { I2S_MCLK_MULTIPLE_DEFAULT = 0 } i2s_mclk_multiple_t;
typedef struct { int mck_io_num; int bck_io_num; int ws_io_num; int data_out_num; int data_in_num; } i2s_pin_config_t;
typedef struct {
    i2s_mode_t mode; uint32_t sample_rate; i2s_bits_per_sample_t bits_per_sample; i2s_channel_fmt_t channel_format;
    i2s_comm_format_t communication_format; int intr_alloc_flags; int dma_buf_count; int dma_buf_len;
    bool use_apll; bool tx_desc_auto_clear; int fixed_mclk; i2s_mclk_multiple_t mclk_multiple;
    i2s_bits_per_chan_t bits_per_chan;
} i2s_driver_config_t;
typedef i2s_driver_config_t i2s_config_t;
typedef enum { I2S_EVENT_DMA_ERROR, I2S_EVENT_TX_DONE, I2S_EVENT_RX_DONE, I2S_EVENT_TX_Q_OVF, I2S_EVENT_RX_Q_OVF,
               I2S_EVENT_MAX } i2s_event_type_t;
typedef struct { i2s_event_type_t type; size_t size; } i2s_event_t;
esp_err_t i2s_set_pin(i2s_port_t i2s_num, const i2s_pin_config_t *pin);
esp_err_t i2s_driver_install(i2s_port_t i2s_num, const i2s_config_t *i2s_config, int queue_size, void *i2s_queue);
esp_err_t i2s_read(i2s_port_t i2s_num, void *dest, size_t size, size_t *bytes_read, TickType_t ticks_to_wait);
}
