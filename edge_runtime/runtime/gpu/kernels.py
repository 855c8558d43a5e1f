"""CUDA C sources of the preprocessing and segmentation kernels, compiled at run time by NVRTC.

One thread per output pixel. The resize kernels index the host-computed tables of resize_tables.py and
repeat OpenCV's arithmetic exactly (tests/gpu/kernel_reference.py is their NumPy twin): integer math for linear and
integer-scale area, float32 with explicit round-to-nearest intrinsics (no fused multiply-add, so
--fmad=false is belt and braces) for fractional area, __float2int_rn (half to even) for rounding. The
normalisation `pixel * a[c] + b[c]` is fused in and written as float32 or float16 NCHW at batch index
`batch` of the engine's input buffer, so the frame never exists as a resized host image.

No #include: float16 conversion is inline PTX, so NVRTC needs no CUDA headers on the device.
`signatures()` (parsed from the source) lets the launcher check every argument list before a launch.
"""

from __future__ import annotations

import functools
import re
from typing import Dict, List, Tuple

KERNEL_SOURCE = r"""
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

__device__ __forceinline__ void put(float* out, long long i, float v) { out[i] = v; }
__device__ __forceinline__ void put(u16* out, long long i, float v) {
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    out[i] = h;
}
__device__ __forceinline__ float get(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float get(const u16* p, long long i) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(p[i]));
    return f;
}
__device__ __forceinline__ int clamp255(int v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

/* Three resized channel values (source order) -> normalised network channels at (x, y) of image `batch`. */
template <typename T>
__device__ __forceinline__ void store_pixel(T* out, int batch, int dw, int dh, int x, int y, const int v[3],
                                            float a0, float a1, float a2, float b0, float b1, float b2, int bgr) {
    long long plane = (long long)dw * dh;
    long long base = (long long)batch * 3 * plane + (long long)y * dw + x;
    float p0 = (float)v[bgr ? 2 : 0], p1 = (float)v[1], p2 = (float)v[bgr ? 0 : 2];
    put(out, base, __fadd_rn(__fmul_rn(p0, a0), b0));
    put(out, base + plane, __fadd_rn(__fmul_rn(p1, a1), b1));
    put(out, base + 2 * plane, __fadd_rn(__fmul_rn(p2, a2), b2));
}

/* cv2 INTER_LINEAR, uint8: 11-bit weights, horizontal ints, vertical as OpenCV's SIMD pass. */
template <typename T>
__device__ void resize_linear(const u8* src, long long pitch, T* out, int batch, int dw, int dh,
                              const int* xtab, const int* ytab,
                              float a0, float a1, float a2, float b0, float b1, float b2, int bgr) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dw || y >= dh) return;
    const int* tx = xtab + 4 * x;
    const int* ty = ytab + 4 * y;
    const u8* r0 = src + (long long)ty[0] * pitch;
    const u8* r1 = src + (long long)ty[1] * pitch;
    int v[3];
    for (int c = 0; c < 3; ++c) {
        int h0 = r0[tx[0] * 3 + c] * tx[2] + r0[tx[1] * 3 + c] * tx[3];
        int h1 = r1[tx[0] * 3 + c] * tx[2] + r1[tx[1] * 3 + c] * tx[3];
        int s = (((h0 >> 4) * ty[2]) >> 16) + (((h1 >> 4) * ty[3]) >> 16);
        v[c] = clamp255((s + 2) >> 2);
    }
    store_pixel(out, batch, dw, dh, x, y, v, a0, a1, a2, b0, b1, b2, bgr);
}

/* cv2 INTER_AREA, fractional scale: per source row a float32 weighted sum, then the weighted rows. */
template <typename T>
__device__ void resize_area(const u8* src, long long pitch, T* out, int batch, int dw, int dh,
                            const int* xstart, const int* xindex, const float* xweight,
                            const int* ystart, const int* yindex, const float* yweight,
                            float a0, float a1, float a2, float b0, float b1, float b2, int bgr) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dw || y >= dh) return;
    float t0 = 0.f, t1 = 0.f, t2 = 0.f;
    int xs = xstart[x], xe = xstart[x + 1];
    for (int j = ystart[y]; j < ystart[y + 1]; ++j) {
        const u8* row = src + (long long)yindex[j] * pitch;
        float s0 = 0.f, s1 = 0.f, s2 = 0.f;
        for (int k = xs; k < xe; ++k) {
            const u8* p = row + xindex[k] * 3;
            float w = xweight[k];
            s0 = __fadd_rn(s0, __fmul_rn((float)p[0], w));
            s1 = __fadd_rn(s1, __fmul_rn((float)p[1], w));
            s2 = __fadd_rn(s2, __fmul_rn((float)p[2], w));
        }
        float beta = yweight[j];
        if (j == ystart[y]) {
            t0 = __fmul_rn(beta, s0); t1 = __fmul_rn(beta, s1); t2 = __fmul_rn(beta, s2);
        } else {
            t0 = __fadd_rn(t0, __fmul_rn(beta, s0));
            t1 = __fadd_rn(t1, __fmul_rn(beta, s1));
            t2 = __fadd_rn(t2, __fmul_rn(beta, s2));
        }
    }
    int v[3] = {clamp255(__float2int_rn(t0)), clamp255(__float2int_rn(t1)), clamp255(__float2int_rn(t2))};
    store_pixel(out, batch, dw, dh, x, y, v, a0, a1, a2, b0, b1, b2, bgr);
}

/* cv2 INTER_AREA, integer scale: integer cell sum; 2x2 rounds (s + 2) >> 2, others s * (1/area). */
template <typename T>
__device__ void resize_area_int(const u8* src, long long pitch, T* out, int batch, int dw, int dh,
                                int sx, int sy, float inv_area, int two_by_two,
                                float a0, float a1, float a2, float b0, float b1, float b2, int bgr) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dw || y >= dh) return;
    int s[3] = {0, 0, 0};
    for (int j = 0; j < sy; ++j) {
        const u8* row = src + (long long)(y * sy + j) * pitch + (long long)x * sx * 3;
        for (int k = 0; k < sx; ++k) {
            s[0] += row[3 * k]; s[1] += row[3 * k + 1]; s[2] += row[3 * k + 2];
        }
    }
    int v[3];
    for (int c = 0; c < 3; ++c)
        v[c] = two_by_two ? ((s[c] + 2) >> 2) : clamp255(__float2int_rn(__fmul_rn((float)s[c], inv_area)));
    store_pixel(out, batch, dw, dh, x, y, v, a0, a1, a2, b0, b1, b2, bgr);
}

/* Segmentation: first maximum over classes at each low-resolution pixel (NaN wins, as np.argmax). */
template <typename T>
__device__ void seg_argmax(const T* scores, int classes, int plane, u8* labels) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= plane) return;
    float best = get(scores, i);
    int label = 0;
    for (int c = 1; c < classes; ++c) {
        float v = get(scores, (long long)c * plane + i);
        if (best != best) break;
        if (v > best || v != v) { best = v; label = c; }
    }
    labels[i] = (u8)label;
}

#define PIXEL_ARGS float a0, float a1, float a2, float b0, float b1, float b2, int bgr
#define PIXEL_PASS a0, a1, a2, b0, b1, b2, bgr

extern "C" {

__global__ void resize_linear_f32(const u8* src, long long pitch, float* out, int batch, int dw, int dh,
                                  const int* xtab, const int* ytab, PIXEL_ARGS) {
    resize_linear(src, pitch, out, batch, dw, dh, xtab, ytab, PIXEL_PASS);
}
__global__ void resize_linear_f16(const u8* src, long long pitch, u16* out, int batch, int dw, int dh,
                                  const int* xtab, const int* ytab, PIXEL_ARGS) {
    resize_linear(src, pitch, out, batch, dw, dh, xtab, ytab, PIXEL_PASS);
}
__global__ void resize_area_f32(const u8* src, long long pitch, float* out, int batch, int dw, int dh,
                                const int* xstart, const int* xindex, const float* xweight,
                                const int* ystart, const int* yindex, const float* yweight, PIXEL_ARGS) {
    resize_area(src, pitch, out, batch, dw, dh, xstart, xindex, xweight, ystart, yindex, yweight, PIXEL_PASS);
}
__global__ void resize_area_f16(const u8* src, long long pitch, u16* out, int batch, int dw, int dh,
                                const int* xstart, const int* xindex, const float* xweight,
                                const int* ystart, const int* yindex, const float* yweight, PIXEL_ARGS) {
    resize_area(src, pitch, out, batch, dw, dh, xstart, xindex, xweight, ystart, yindex, yweight, PIXEL_PASS);
}
__global__ void resize_area_int_f32(const u8* src, long long pitch, float* out, int batch, int dw, int dh,
                                    int sx, int sy, float inv_area, int two_by_two, PIXEL_ARGS) {
    resize_area_int(src, pitch, out, batch, dw, dh, sx, sy, inv_area, two_by_two, PIXEL_PASS);
}
__global__ void resize_area_int_f16(const u8* src, long long pitch, u16* out, int batch, int dw, int dh,
                                    int sx, int sy, float inv_area, int two_by_two, PIXEL_ARGS) {
    resize_area_int(src, pitch, out, batch, dw, dh, sx, sy, inv_area, two_by_two, PIXEL_PASS);
}
__global__ void seg_argmax_f32(const float* scores, int classes, int plane, u8* labels) {
    seg_argmax(scores, classes, plane, labels);
}
__global__ void seg_argmax_f16(const u16* scores, int classes, int plane, u8* labels) {
    seg_argmax(scores, classes, plane, labels);
}

/* Nearest resize of the labels to the frame size, plus per-class pixel counts (block histogram). */
__global__ void seg_expand(const u8* labels, int lw, const int* rows, const int* cols, int width, int height,
                           u8* class_map, u32* counts, int classes) {
    __shared__ u32 hist[256];
    int t = threadIdx.y * blockDim.x + threadIdx.x;
    for (int i = t; i < 256; i += blockDim.x * blockDim.y) hist[i] = 0;
    __syncthreads();
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < width && y < height) {
        u8 label = labels[rows[y] * lw + cols[x]];
        class_map[(long long)y * width + x] = label;
        atomicAdd(&hist[label], 1u);
    }
    __syncthreads();
    for (int i = t; i < classes; i += blockDim.x * blockDim.y)
        if (hist[i]) atomicAdd(&counts[i], hist[i]);
}

}
"""

KERNEL_NAMES = (
    "resize_linear_f32",
    "resize_linear_f16",
    "resize_area_f32",
    "resize_area_f16",
    "resize_area_int_f32",
    "resize_area_int_f16",
    "seg_argmax_f32",
    "seg_argmax_f16",
    "seg_expand",
)

# C parameter type -> launch argument kind: "ptr" (device pointer), "i32", "i64", "f32".
_KINDS = {"int": "i32", "long long": "i64", "float": "f32"}
_MACROS = {"PIXEL_ARGS": "float a0, float a1, float a2, float b0, float b1, float b2, int bgr"}


@functools.lru_cache(maxsize=None)
def signatures(source: str = KERNEL_SOURCE) -> Dict[str, List[Tuple[str, str]]]:
    """{kernel name: [(parameter name, kind), ...]} for every __global__ function in `source`."""
    found: Dict[str, List[Tuple[str, str]]] = {}
    for match in re.finditer(r"__global__\s+void\s+(\w+)\s*\(([^)]*)\)", source):
        params = match.group(2)
        for macro, text in _MACROS.items():
            params = params.replace(macro, text)
        entries = []
        for raw in params.split(","):
            decl = " ".join(raw.split())
            name = re.findall(r"(\w+)$", decl)[0]
            ctype = decl[: -len(name)].replace("const ", "").strip()
            entries.append((name, "ptr" if ctype.endswith("*") else _KINDS[ctype]))
        found[match.group(1)] = entries
    return found
