/*
 * kws_nn.h - tinykws's own int8 inference kernels (portable C99, optional Cortex-M DSP path).
 *
 * Contract: every kernel computes exactly what TensorFlow Lite Micro's reference int8 kernels
 * compute for the same model (same integer requantization, same rounding, same softmax fixed-point
 * arithmetic), bit for bit. The parameter structs and the pre-arranged weight arrays are written by
 * the generator (tinykws/export/native.py) into kws_net_model.h; nothing here allocates, and a
 * kernel only touches its input, its output and the scratch the generator sized for it.
 *
 * Activations are int8, NHWC, batch 1. Weights are stored in the layout each kernel reads fastest
 * (documented per struct); the generator folds the input zero point into the bias where the result
 * is unchanged (1x1 convolutions and fully connected layers, which have no padding).
 *
 * Two code paths: a portable one, and one using the Cortex-M4/M7/M33 DSP extension (SMLAD, SXTB16,
 * SMMLAR, SSAT) when the compiler defines __ARM_FEATURE_DSP. -DKWS_NN_PORTABLE forces the portable
 * path; -DKWS_NN_EMULATE_DSP compiles the DSP path on any host with C versions of the intrinsics
 * (used by the host tests). Both paths give identical outputs.
 */
#ifndef KWS_NN_H
#define KWS_NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Per-output-channel requantization: out = clamp(zp + MultiplyByQuantizedMultiplier(acc, mult, shift)).
 * shift follows TFLite: > 0 shifts left, < 0 shifts right. fast_add, when not NULL, holds
 * (1 << (-shift - 1)) + (zp << -shift) per channel: the generator sets it only where it proved the
 * cheaper DSP form exact for this layer (see kws_nn_internal.h).
 */
typedef struct {
    const int32_t *bias;     /* [out_c], accumulator start (input offset folded in where allowed) */
    const int32_t *mult;     /* [out_c], Q31 multiplier */
    const int8_t *shift;     /* [out_c] */
    const int32_t *fast_add; /* [out_c] or NULL */
    int32_t out_zp;
    int32_t act_min, act_max;
} kws_nn_quant_t;

/*
 * The gemm layout of the convolution weights (int16 pairs, K inputs per output channel): blocks
 * of 2 output channels [out_c/2][K/2][2] (pair k of channel 2b, then pair k of channel 2b+1), then
 * an odd last channel as a plain row [K/2]. The inner loop reads one 64-bit word per pair of
 * channels and serves four pixels with it.
 *
 * General convolution through im2col. weights: gemm layout of [out_c][k_padded], taps in
 * (ky, kx, ic) order, zero beyond k_h*k_w*in_c (k_padded is a multiple of 4). The bias is NOT folded: padded
 * taps contribute zero to sum((x + in_offset) * w). scratch: 4 * k_padded int16. in != out.
 */
typedef struct {
    uint16_t in_h, in_w, in_c, out_h, out_w, out_c;
    uint8_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    uint16_t k_padded;
    int32_t in_offset; /* -input zero point */
    const int16_t *weights; /* gemm layout, or NULL when packed is set */
    kws_nn_quant_t q;
    const int32_t *packed;  /* the packed stream (below), or NULL */
} kws_nn_conv_t;

/*
 * 1x1 convolution, stride 1 (the hot path of DS-CNN). in_c is a multiple of 4. weights: int16
 * pairs in the gemm layout (below); within each group of 4 input channels the pairs are (c0,c2)
 * then (c1,c3), the order SXTB16 unpacks a word of int8 in. Bias has the input offset folded in. scratch: 4 * in_c int16. in == out is allowed when
 * out_c <= in_c (a pixel is read completely before its output is written).
 */
typedef struct {
    uint16_t n_pix, in_c, out_c;
    const int16_t *weights; /* gemm layout, or NULL when packed is set */
    kws_nn_quant_t q;
    const int32_t *packed;  /* the packed stream (below), or NULL */
} kws_nn_pointwise_t;

/*
 * The packed stream (convolutions and 1x1 convolutions whose requantization the generator proved
 * exact in the fast form with an unclamped int8 range, an even out_c and K a multiple of 4): the
 * whole layer as one word stream the DSP kernel reads front to back, two output channels (a, b) at
 * a time. Per pair of channels:
 *   [2 bias_a, 2 bias_a, 2 bias_b, 2 bias_b]   the four accumulators of 2 channels x 2 pixels
 *                                              (the M4's 2 x 4 block copies them to its eight)
 *   K/4 steps of [wa(k), wb(k), wa(k+1), wb(k+1)]   int16 pairs k, k+1 (same pair order as the
 *                                              gemm layout), every weight doubled
 *   [mult_a, fast_add_a, -shift_a, mult_b, fast_add_b, -shift_b, last]   last: 1 on the final pair
 * Doubling the weights and the bias makes the accumulator 2 * acc, the operand SMMLAR needs
 * (kws_nn_internal.h); the generator bounded |acc| so that it cannot overflow. q still holds the
 * reference constants (the portable path requantizes acc / 2 with them).
 */

/*
 * Depthwise convolution, depth multiplier 1. weights: int16 [c][k_h*k_w] (taps of a channel
 * contiguous). Four channels at a time are widened (x + in_offset, zero padding) into scratch,
 * planar and by column: [4][w2][h2p] int16, w2 = (out_w-1)*stride_w + k_w, h2 = (out_h-1)*stride_h
 * + k_h, h2p = h2 (+1 when out_h is odd) rounded up to even; then out_w * (out_h rounded up to even)
 * int32 accumulators: all the sums of one channel.
 * A group's channels are copied before any of them is written, so in == out is allowed when the
 * output has the input's shape.
 */
typedef struct {
    uint16_t in_h, in_w, c, out_h, out_w;
    uint8_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int32_t in_offset;
    const int16_t *weights;
    kws_nn_quant_t q;
} kws_nn_depthwise_t;

/* Average pooling, TFLite rounding (half away from zero); input and output share scale and zero point. */
typedef struct {
    uint16_t in_h, in_w, c, out_h, out_w;
    uint8_t f_h, f_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} kws_nn_avgpool_t;

/* Fully connected: weights int8 [out_n][in_n]; bias has the input offset folded in. */
typedef struct {
    uint16_t in_n, out_n;
    const int8_t *weights;
    kws_nn_quant_t q;
} kws_nn_fc_t;

/* Softmax int8 -> int8 (output scale 1/256, zero point -128), TFLite's gemmlowp fixed point. */
typedef struct {
    uint16_t rows, depth;
    int32_t input_multiplier, input_left_shift, diff_min;
} kws_nn_softmax_t;

void kws_nn_conv2d(const kws_nn_conv_t *p, const int8_t *in, int8_t *out, int16_t *scratch);
void kws_nn_pointwise(const kws_nn_pointwise_t *p, const int8_t *in, int8_t *out, int16_t *scratch);
void kws_nn_depthwise(const kws_nn_depthwise_t *p, const int8_t *in, int8_t *out, int16_t *scratch);
void kws_nn_avgpool(const kws_nn_avgpool_t *p, const int8_t *in, int8_t *out);
void kws_nn_fc(const kws_nn_fc_t *p, const int8_t *in, int8_t *out);
void kws_nn_softmax(const kws_nn_softmax_t *p, const int8_t *in, int8_t *out);

/* TFLite's MultiplyByQuantizedMultiplier (double rounding), exposed for tests. */
int32_t kws_nn_requantize(int32_t acc, int32_t mult, int32_t shift);

/* CRC-32 (IEEE 802.3, as zlib.crc32): continue `crc` (0 to start) over `len` bytes. */
uint32_t kws_nn_crc32(uint32_t crc, const void *data, size_t len);

/* 1 when this build uses the DSP path, 0 for the portable one. */
int kws_nn_uses_dsp(void);

#ifdef __cplusplus
}
#endif

#endif
